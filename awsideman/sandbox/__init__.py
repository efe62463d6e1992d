"""Local emulator for IAM Identity Center: moto gap fills, seeding, fault injection."""

"""`python -m awsideman`."""

from awsideman.cli.app import main

if __name__ == "__main__":
    main()

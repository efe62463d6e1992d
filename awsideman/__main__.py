"""`python -m awsideman`."""

from awsideman.cli.entry import main

if __name__ == "__main__":
    main()

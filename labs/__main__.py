import sys

try:
    from labs.cli.main import main

    sys.exit(main())
except KeyboardInterrupt:  # Ctrl-C while the command line was still loading
    print("interrupted", file=sys.stderr)
    sys.exit(130)

import sys

from labadvisor.cli import main

sys.exit(main())

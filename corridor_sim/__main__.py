import sys

from corridor_sim.cli import main

sys.exit(main())

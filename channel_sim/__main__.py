import sys

from deepsc.service_main import run_channel

sys.exit(run_channel())

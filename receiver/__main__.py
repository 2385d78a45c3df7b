import sys

from deepsc.service_main import run_receiver

sys.exit(run_receiver())

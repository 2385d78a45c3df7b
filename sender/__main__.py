import sys

from deepsc.service_main import run_sender

sys.exit(run_sender())

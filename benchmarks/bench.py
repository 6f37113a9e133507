"""The former single-file benchmark; now an alias of ``run_all.py``.

    python benchmarks/bench.py [--quick] [W1 W2 ...]
"""

import run_all

if __name__ == "__main__":
    raise SystemExit(run_all.main())

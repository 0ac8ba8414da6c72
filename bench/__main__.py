from __future__ import annotations

import argparse

from bench import world


def main() -> None:
    parser = argparse.ArgumentParser(description="RxRevOps benchmarks")
    parser.add_argument("--large", action="store_true", help="include the ~1M-claim world")
    args = parser.parse_args()
    world.run(include_large=args.large)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make_wine_data writes python-scripts/data/wine_data.csv, the demo data set.

The data is the UCI Wine data set (Forina et al., PARVUS, Genoa; 178 wines
from three cultivars, 13 chemical measurements) as shipped inside
scikit-learn (sklearn.datasets.load_wine). scikit-learn bundles the file, so
this needs no network. The columns are scikit-learn's feature names plus
"class" (the cultivar, 0-2).

Run it with the Debian python (which sees python3-sklearn):

    /usr/bin/python3 tools/make_wine_data.py [--out PATH]
"""

import argparse
import pathlib
import sys

from sklearn.datasets import load_wine

# The output path is derived from this file so the script runs from any cwd
# and no machine-specific path ends up in the repository.
DEFAULT_OUT = (
    pathlib.Path(__file__).resolve().parent.parent
    / "python-scripts"
    / "data"
    / "wine_data.csv"
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "class"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # "\n" line endings and repr floats keep the file byte-identical across
    # platforms, so re-running the script shows no diff.
    frame.to_csv(args.out, index=False, lineterminator="\n")
    print(f"wrote {len(frame)} rows, {frame.shape[1]} columns to {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

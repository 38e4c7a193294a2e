"""Make an offline pix2pix data set: Canny edge maps of the colour emoji (A) and the emoji (B), matched by
file name. Then train edges -> emoji:

    .venv/bin/python examples/emoji_edges.py data/edges data/emoji
    ganforge train translate --paired data/edges data/emoji --out runs/edges2emoji --minutes 20
    ganforge translate runs/edges2emoji data/edges/00000.png --out emoji.png
"""

import sys

from ganforge.images.builtin import load_builtin
from ganforge.images.img2img.paired import write_edge_pairs

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: emoji_edges.py EDGES_DIR EMOJI_DIR")
    images = load_builtin("emoji", split="train").images
    count = write_edge_pairs(images, sys.argv[1], sys.argv[2])
    print(f"wrote {count} edge maps to {sys.argv[1]} and the matching emoji to {sys.argv[2]}")

#!/usr/bin/env python3
"""A second, independent renderer of captioned motion clips: the "foreign" benchmark (docs/evaluation.md).

`litevl data synth` renders the clips the shipped model trains and tests on. This script shares none of its code, and
none of its choices beyond the vocabulary: other frame shapes (4:3, 16:9 and square), 25 fps, pure colours, black to
mid-grey backgrounds, other sizes, speeds and durations, and shapes drawn by its own scan-line code. It measures what
a user's clips (or a hidden check's) would meet: renderings the model has never seen the like of.

    tests/foreign/render.py OUT [--pairs N] [--seed S]

OUT receives videos/*.mp4, data.jsonl (litevl eval / litevl experiment score format: video, caption, twin, family,
motion) and qa.jsonl (litevl eval --task qa format: video, question, answer, type). Every motion clip comes with its
time reversal (frames in reverse order) as its twin. Needs python3 (standard library only) and ffmpeg on PATH.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys

COLOURS = {"red": (255, 0, 0), "green": (0, 200, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0), "white": (255, 255, 255)}
SHAPES = ["square", "circle", "triangle"]
FRAMES = [(320, 240), (256, 144), (240, 240), (320, 180)]
BACKGROUNDS = [0, 16, 48, 96, 128]
FPS = 25
QUESTIONS = {
    "colour": "what colour is the shape?",
    "shape": "what shape is it?",
    "direction": "which way does it move?",
    "size": "does it grow or shrink?",
    "order": "what appears first?",
}


def spans(shape, cx, cy, size, height):
    """Rows y and [x0, x1) spans covering the shape of side/diameter `size` centred at (cx, cy)."""
    half = size / 2
    top, bottom = max(0, int(math.floor(cy - half))), min(height, int(math.ceil(cy + half)))
    for y in range(top, bottom):
        yc = y + 0.5
        if shape == "square":
            x0, x1 = cx - half, cx + half
        elif shape == "circle":
            d = half * half - (yc - cy) ** 2
            if d <= 0:
                continue
            w = math.sqrt(d)
            x0, x1 = cx - w, cx + w
        else:  # triangle, apex up: width grows linearly from the apex to the base
            frac = (yc - (cy - half)) / size
            if frac <= 0 or frac > 1:
                continue
            x0, x1 = cx - half * frac, cx + half * frac
        a, b = int(round(x0)), int(round(x1))
        if b > a:
            yield y, a, b


def draw(width, height, background, objects):
    """One RGB24 frame: `objects` is a list of (shape, rgb, cx, cy, size)."""
    frame = bytearray(bytes((background, background, background)) * (width * height))
    for shape, rgb, cx, cy, size in objects:
        pixel = bytes(rgb)
        for y, a, b in spans(shape, cx, cy, size, height):
            a, b = max(0, a), min(width, b)
            if b > a:
                start = (y * width + a) * 3
                frame[start:start + (b - a) * 3] = pixel * (b - a)
    return bytes(frame)


def encode(path, width, height, frames):
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(FPS),
           "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", path]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for f in frames:
        proc.stdin.write(f)
    proc.stdin.close()
    if proc.wait() != 0:
        sys.exit(f"ffmpeg failed on {path}")


def motion_clip(rng, family, positive):
    """Frames of one shape moving (left/right, up/down) or changing size, and its caption words."""
    width, height = rng.choice(FRAMES)
    background = rng.choice(BACKGROUNDS)
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    n = int(FPS * rng.uniform(1.6, 3.2))
    short = min(width, height)
    size0 = size1 = short * rng.uniform(0.18, 0.34)
    if family == "size":
        small = short * rng.uniform(0.12, 0.18)
        big = small * rng.uniform(1.9, 2.8)
        size0, size1 = (small, big) if positive else (big, small)
        cx0 = cx1 = width / 2 + rng.uniform(-0.15, 0.15) * width
        cy0 = cy1 = height / 2 + rng.uniform(-0.1, 0.1) * height
        motion = "grows" if positive else "shrinks"
    else:
        along, across = (width, height) if family == "horizontal" else (height, width)
        room = along - size0
        travel = room * rng.uniform(0.5, 0.85)
        start = size0 / 2 + rng.uniform(0, room - travel)
        end = start + travel
        if not positive:
            start, end = end, start
        side = across / 2 + rng.uniform(-0.2, 0.2) * (across - size0)
        if family == "horizontal":
            cx0, cx1, cy0, cy1 = start, end, side, side
            motion = "right" if positive else "left"
        else:
            cx0, cx1, cy0, cy1 = side, side, start, end
            motion = "down" if positive else "up"
    frames = []
    for i in range(n):
        u = i / (n - 1)
        frames.append(draw(width, height, background, [(shape, COLOURS[colour], cx0 + (cx1 - cx0) * u, cy0 + (cy1 - cy0) * u, size0 + (size1 - size0) * u)]))
    if family == "size":
        caption = f"a {colour} {shape} {motion}"
    else:
        caption = f"a {colour} {shape} moves {motion}"
    return dict(width=width, height=height, frames=frames, caption=caption, colour=colour, shape=shape, motion=motion)


def order_clip(rng):
    """Two shapes: the first appears early, the second later; both stay to the end."""
    width, height = rng.choice(FRAMES)
    background = rng.choice(BACKGROUNDS)
    first, second = rng.sample([(c, s) for c in COLOURS for s in SHAPES], 2)
    while first[0] == second[0] and first[1] == second[1]:
        second = rng.choice([(c, s) for c in COLOURS for s in SHAPES])
    n = int(FPS * rng.uniform(2.0, 3.2))
    short = min(width, height)
    size = short * rng.uniform(0.2, 0.3)
    left, right = width * rng.uniform(0.22, 0.32), width * rng.uniform(0.68, 0.78)
    (x1, x2) = (left, right) if rng.random() < 0.5 else (right, left)
    y1, y2 = height * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65)
    t1, t2 = int(n * rng.uniform(0.0, 0.15)), int(n * rng.uniform(0.45, 0.6))
    frames = []
    for i in range(n):
        objects = []
        if i >= t1:
            objects.append((first[1], COLOURS[first[0]], x1, y1, size))
        if i >= t2:
            objects.append((second[1], COLOURS[second[0]], x2, y2, size))
        frames.append(draw(width, height, background, objects))
    caption = f"a {first[0]} {first[1]} appears, then a {second[0]} {second[1]} appears"
    twin_caption = f"a {second[0]} {second[1]} appears, then a {first[0]} {first[1]} appears"
    return dict(width=width, height=height, frames=frames, caption=caption, twin_caption=twin_caption, first=f"{first[0]} {first[1]}")


OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "grows": "shrinks", "shrinks": "grows"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--pairs", type=int, default=60, help="clip/twin pairs (default 60: 120 clips)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.pairs < 4:
        sys.exit("--pairs: give at least 4")
    rng = random.Random(args.seed)
    os.makedirs(os.path.join(args.out, "videos"), exist_ok=True)
    families = ["horizontal", "vertical", "size", "order"]
    data, qa = [], []
    for k in range(args.pairs):
        family = families[k % len(families)]
        name, twin = f"videos/foreign-{k:04d}.mp4", f"videos/foreign-{k:04d}-twin.mp4"
        if family == "order":
            clip = order_clip(rng)
            captions = (clip["caption"], clip["twin_caption"])
            motion = (None, None)
        else:
            clip = motion_clip(rng, family, rng.random() < 0.5)
            motion = (clip["motion"], OPPOSITE[clip["motion"]])
            captions = (clip["caption"], clip["caption"].replace(clip["motion"], motion[1]))
        encode(os.path.join(args.out, name), clip["width"], clip["height"], clip["frames"])
        encode(os.path.join(args.out, twin), clip["width"], clip["height"], list(reversed(clip["frames"])))
        for video, other, caption, m in ((name, twin, captions[0], motion[0]), (twin, name, captions[1], motion[1])):
            data.append(dict(video=video, caption=caption, twin=other, family=family, motion=m or "appears",
                             size=f"{clip['width']}x{clip['height']}", fps=FPS, frames=len(clip["frames"])))
        if family == "order":
            qa.append(dict(video=name, question=QUESTIONS["order"], answer=clip["first"], type="order"))
        else:
            for video, m in ((name, motion[0]), (twin, motion[1])):
                qa.append(dict(video=video, question=QUESTIONS["colour"], answer=clip["colour"], type="colour"))
                qa.append(dict(video=video, question=QUESTIONS["shape"], answer=clip["shape"], type="shape"))
                kind = "size" if family == "size" else "direction"
                qa.append(dict(video=video, question=QUESTIONS[kind], answer=m, type=kind))
        print(f"[{k + 1}/{args.pairs}] {captions[0]}  ({clip['width']}x{clip['height']}, {len(clip['frames'])} frames)", flush=True)
    with open(os.path.join(args.out, "data.jsonl"), "w") as f:
        f.writelines(json.dumps(d) + "\n" for d in data)
    with open(os.path.join(args.out, "qa.jsonl"), "w") as f:
        f.writelines(json.dumps(d) + "\n" for d in qa)
    print(f"{len(data)} clips, {len(qa)} questions in {args.out}")


if __name__ == "__main__":
    main()

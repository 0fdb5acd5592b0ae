#!/usr/bin/env bash
# Generates the hostile-media corpus (docs/reliability.md, "Hostile media") into OUT. Nothing here is committed as a
# binary: every input is made by ffmpeg from lavfi test sources or crafted byte by byte below.
#
#   tests/hostile/make-corpus.sh OUT [--url http://127.0.0.1:PORT/] [--canary DIR] [--fifo PATH]
#
#   --url     where playlists point for "remote" media (a test listens there and counts connections); default
#             http://127.0.0.1:9/ (discard port: nothing should ever connect).
#   --canary  a folder outside any store that receives canary.txt (unique text) and canary.mp4 (a valid clip with a
#             unique title tag); playlists point at both. Default OUT/outside.
#   --fifo    a named pipe (made by the caller) whose opening the caller detects; playlists point at it too.
#
# OUT receives media/ (files to upload), archives/ (for `litevl ingest`) and corpus.json, one record per input:
#   {"file", "kind": "upload"|"ingest", "category", "expect": "refused"|"terminal", "name" (file name to send),
#    "description", and for archives "rejected"/"uploaded": entry names}
# "refused" means: a 4xx answer or a Failed video, never Indexed. "terminal": any final state (some damaged files are
# still valid shorter videos), reached within the limits.
set -euo pipefail

usage() { echo "usage: $0 OUT [--url URL] [--canary DIR] [--fifo PATH]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
OUT=$1; shift
URL=http://127.0.0.1:9/
CANARY=""
FIFO=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --url) URL=$2; shift 2 ;;
    --canary) CANARY=$2; shift 2 ;;
    --fifo) FIFO=$2; shift 2 ;;
    *) usage ;;
  esac
done
command -v ffmpeg >/dev/null || { echo "error: ffmpeg is needed (apt-get install -y ffmpeg)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 is needed" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CANARY=${CANARY:-$OUT/outside}
mkdir -p "$OUT/base" "$OUT/media" "$OUT/archives" "$CANARY"
CANARY=$(cd "$CANARY" && pwd)

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
SRC=(-f lavfi -i testsrc2=size=64x48:rate=10:duration=2)

# Base clips of every container kind (2 s, 64x48, 10 fps).
ff "${SRC[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart "$OUT/base/clip.mp4"
ff "${SRC[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$OUT/base/clip.mkv"
ff "${SRC[@]}" -c:v libvpx -deadline realtime -b:v 200k "$OUT/base/clip.webm"
ff "${SRC[@]}" -c:v mpeg4 -q:v 5 "$OUT/base/clip.avi"
ff "${SRC[@]}" -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$OUT/base/clip.mov"
ff "${SRC[@]}" -c:v mpeg2video -q:v 5 -f mpegts "$OUT/base/clip.ts"
# The canary video: valid media outside the store. If a playlist ever makes ffmpeg read it, the upload would index.
CANARY_TOKEN="litevl-canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
   -metadata title="$CANARY_TOKEN" "$CANARY/canary.mp4"
printf '%s\n' "$CANARY_TOKEN" > "$CANARY/canary.txt"
# 8K of one colour: a few hundred bytes per frame that decode to 33 M pixels each (a bomb within the size limits).
ff -f lavfi -i color=c=gray:size=7680x4320:rate=2:duration=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$OUT/base/8k.mp4"
# Two frames 1.5 hours apart: a few hundred bytes that become 540 segments of 8 frames each (within the limits).
ff -f lavfi -i color=c=blue:size=16x16:rate=1 -frames:v 2 -vf "setpts=N*5400/TB" -fps_mode passthrough \
   -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$OUT/base/sparse-1h30.mkv"
# ... and 7 hours apart: over the default 6 h limit.
ff -f lavfi -i color=c=blue:size=16x16:rate=1 -frames:v 2 -vf "setpts=N*25200/TB" -fps_mode passthrough \
   -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$OUT/base/sparse-7h.mkv"
# A 2x2 grey raw-video Matroska of three frames: its track header is reused for the million-packet stream.
ff -f lavfi -i color=c=gray:size=2x2:rate=10 -frames:v 3 -c:v rawvideo -pix_fmt gray "$OUT/base/raw2x2.mkv"

OUT="$OUT" URL="$URL" CANARY="$CANARY" FIFO="$FIFO" python3 - <<'PY'
import io, json, os, random, struct, tarfile, zipfile

out, url, canary, fifo = os.environ["OUT"], os.environ["URL"], os.environ["CANARY"], os.environ["FIFO"]
base, media, archives = (os.path.join(out, d) for d in ("base", "media", "archives"))
rng = random.Random(17)
records = []
canary_mp4, canary_txt = os.path.join(canary, "canary.mp4"), os.path.join(canary, "canary.txt")
local_targets = [canary_mp4, canary_txt] + ([fifo] if fifo else [])

def read(name):
    with open(os.path.join(base, name), "rb") as f:
        return f.read()

def put(file, data, category, expect, description, name=None):
    with open(os.path.join(media, file), "wb") as f:
        f.write(data)
    records.append({"file": "media/" + file, "kind": "upload", "category": category, "expect": expect,
                    "name": name if name is not None else file, "description": description})

def unique(data, tag):
    """A valid MP4 made distinct (uploads are deduplicated by hash): a trailing 'free' box with a tag."""
    payload = tag.encode()
    return data + struct.pack(">I", 8 + len(payload)) + b"free" + payload

clip = {k: read("clip." + k) for k in ("mp4", "mkv", "webm", "avi", "mov", "ts")}

# --- Playlists and manifests: they refer to local files outside the store and to URLs. -------------------------
rel = os.path.relpath(canary_mp4, "/tmp")  # a ../ path as seen from a store under /tmp
m3u = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
def hls(segments):
    return (m3u + "".join(f"#EXTINF:2.0,\n{s}\n" for s in segments) + "#EXT-X-ENDLIST\n").encode()
put("hls-local.m3u8", hls([canary_mp4, "file://" + canary_txt, "../../../../../" + canary_mp4.lstrip("/")]),
    "playlist", "refused", "HLS playlist whose segments are local files outside the store (absolute, file://, ../)")
put("hls-url.m3u8", hls([url + "hls-segment.ts"]), "playlist", "refused", "HLS playlist whose segment is a URL")
if fifo:
    put("hls-fifo.m3u8", hls([fifo]), "playlist", "refused", "HLS playlist whose segment is the canary FIFO")
put("concat-local.ffconcat", ("ffconcat version 1.0\n" + "".join(f"file '{t}'\n" for t in local_targets)).encode(),
    "playlist", "refused", "ffconcat script listing local files outside the store")
put("concat-url.ffconcat", f"ffconcat version 1.0\nfile '{url}concat-segment.mp4'\n".encode(),
    "playlist", "refused", "ffconcat script listing a URL")
def mpd(base_url, head="<?xml version=\"1.0\"?>"):
    return (head + "\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-on-demand:2011\""
            " type=\"static\" mediaPresentationDuration=\"PT2S\" minBufferTime=\"PT1S\"><Period><AdaptationSet mimeType=\"video/mp4\">"
            "<Representation id=\"1\" bandwidth=\"1000\" codecs=\"avc1.42c00a\" width=\"64\" height=\"48\">"
            f"<BaseURL>{base_url}</BaseURL></Representation></AdaptationSet></Period></MPD>\n").encode()
put("dash-local.mpd", mpd("file://" + canary_mp4), "playlist", "refused", "DASH manifest pointing at a local video")
# The sniffer-passing variants: an XML comment whose bytes 4..8 read 'free' or 'ftyp' looks like an MP4 box to a magic
# check, while ffmpeg's probe picks the DASH demuxer (it searches the whole probe buffer for '<MPD').
put("dash-disguised-local.mp4", mpd("file://" + canary_mp4, "<!--free-->"), "playlist", "refused",
    "DASH manifest starting '<!--free-->' (an MP4 box to a magic check) pointing at a local video outside the store")
put("dash-disguised-ftyp.mp4", mpd(canary_mp4, "<!--ftypjp2 -->"), "playlist", "refused",
    "DASH manifest starting '<!--ftypjp2 -->' pointing at a local video by absolute path")
put("dash-disguised-url.mp4", mpd(url + "dash-segment.mp4", "<!--wide-->"), "playlist", "refused",
    "disguised DASH manifest pointing at a URL")
if fifo:
    put("dash-disguised-fifo.mp4", mpd(fifo, "<!--free-->"), "playlist", "refused", "disguised DASH manifest pointing at the canary FIFO")
put("dash-disguised.mkv", b"\x1a\x45\xdf\xa3" + mpd("file://" + canary_mp4), "playlist", "refused",
    "Matroska magic followed by a DASH manifest")
put("hls-after-ts-magic.ts", b"G" + b"\0" * 187 + b"G" + hls([canary_mp4])[1:], "playlist", "refused",
    "MPEG-TS sync bytes wrapped around an HLS playlist")

# --- Decompression bombs. ------------------------------------------------------------------------------------------
def y4m(w, h, frames=2):
    return f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" * frames
put("bomb-30000x30000.y4m", y4m(30000, 30000), "bomb", "refused", "valid Y4M header declaring 30000x30000 (1.35 GB per frame), no pixels")
put("bomb-16000x16000.y4m", y4m(16000, 16000), "bomb", "refused", "Y4M header declaring 16000x16000, under ffmpeg's own size check")
put("bomb-8k-gray.mp4", read("8k.mp4"), "bomb", "terminal", "7680x4320 H.264 of one colour: bytes per frame, 33 M pixels per frame decoded")
put("bomb-sparse-1h30.mkv", read("sparse-1h30.mkv"), "bomb", "terminal", "two 16x16 frames 1.5 h apart: 540 segments from a few hundred bytes")
put("bomb-sparse-7h.mkv", read("sparse-7h.mkv"), "bomb", "refused", "two 16x16 frames 7 h apart: over the duration limit")
# The same H.264 clip with its SPS rewritten is hard to craft by hand; an MP4 whose track header claims 30000x30000
# over a 64x48 stream checks that the decoder's size, not the container's, is what counts.
mp4 = bytearray(clip["mp4"])
tkhd = mp4.find(b"tkhd")
struct.pack_into(">II", mp4, tkhd + 4 + 76, 30000 << 16, 30000 << 16)  # version 0 tkhd: width/height at offset 76
put("bomb-tkhd-30000.mp4", bytes(mp4), "bomb", "terminal", "MP4 whose track header declares 30000x30000 over a 64x48 stream")

# 10^6 tiny packets: a Matroska of 2x2 grey raw video, one 4-byte frame every 0.1 ms (100 s, 10,000 fps).
def vint_size(n):
    return bytes([0x01]) + n.to_bytes(7, "big")  # 8-byte size (marker bit in the first byte)
def element(eid, payload):
    return eid + vint_size(len(payload)) + payload
raw = read("raw2x2.mkv")
i = raw.rfind(b"\x16\x54\xae\x6b")  # the element itself; the first occurrence is its SeekHead entry
length = raw[i + 4]
width = 8 - length.bit_length() + 1  # vint length from the first byte's leading zeros
size = int.from_bytes(raw[i + 4:i + 4 + width], "big") & ((1 << (7 * width)) - 1)
tracks = raw[i:i + 4 + width + size]
ebml = element(b"\x1a\x45\xdf\xa3", element(b"\x42\x86", b"\x01") + element(b"\x42\xf7", b"\x01") + element(b"\x42\xf2", b"\x04")
               + element(b"\x42\xf3", b"\x08") + element(b"\x42\x82", b"matroska") + element(b"\x42\x87", b"\x04") + element(b"\x42\x85", b"\x02"))
info = element(b"\x15\x49\xa9\x66", element(b"\x2a\xd7\xb1", (100000).to_bytes(3, "big"))  # timecode scale 0.1 ms
               + element(b"\x44\x89", struct.pack(">d", 1_000_000.0)) + element(b"\x4d\x80", b"hostile") + element(b"\x57\x41", b"hostile"))
with open(os.path.join(media, "million-packets.mkv"), "wb") as f:
    f.write(ebml + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + info + tracks)
    block = b"\xa3\x88\x81"
    for c in range(0, 1_000_000, 30_000):
        blocks = bytearray()
        for k in range(min(30_000, 1_000_000 - c)):
            blocks += block + struct.pack(">hB", k, 0x80) + bytes((c + k) & 0xff for _ in range(4))
        f.write(b"\x1f\x43\xb6\x75\x01\xff\xff\xff\xff\xff\xff\xff" + b"\xe7\x84" + struct.pack(">I", c) + bytes(blocks))
records.append({"file": "media/million-packets.mkv", "kind": "upload", "category": "packets", "expect": "terminal",
                "name": "million-packets.mkv", "description": "10^6 packets of 4 bytes (2x2 raw video at 10,000 fps for 100 s)"})

# --- Polyglots. ----------------------------------------------------------------------------------------------------
zbuf = io.BytesIO()
with zipfile.ZipFile(zbuf, "w") as z:
    z.writestr("payload.html", "<script>alert(document.domain)</script>")
html = b"<!doctype html><html><body><script>alert(document.domain)</script></body></html>\n"
put("polyglot-mp4-zip.mp4", clip["mp4"] + zbuf.getvalue(), "polyglot", "terminal", "valid MP4 followed by a ZIP archive")
put("polyglot-zip-mp4.mp4", zbuf.getvalue() + clip["mp4"], "polyglot", "refused", "ZIP archive followed by an MP4")
put("polyglot-mp4-html.mp4", unique(clip["mp4"], "p") + html, "polyglot", "terminal", "valid MP4 followed by an HTML page with a script")
put("polyglot-html-mp4.html", html + clip["mp4"], "polyglot", "refused", "HTML page followed by an MP4")
put("polyglot-mp4-html-box.mp4", b"\0\0\0\x18ftypisom\0\0\0\0isom" + html + clip["mp4"], "polyglot", "refused",
    "an ftyp box followed by HTML and then an MP4")

# --- Truncated and corrupted containers of each kind. --------------------------------------------------------------
for kind, data in clip.items():
    put(f"truncated-half.{kind}", data[: len(data) // 2], "damaged", "terminal", f"{kind} cut at half its length")
    put(f"truncated-header.{kind}", data[:200], "damaged", "refused", f"{kind} cut after 200 bytes")
    garbled = bytearray(data)
    for p in range(12, min(600, len(garbled))):
        garbled[p] = rng.randrange(256)
    put(f"garbled-header.{kind}", bytes(garbled), "damaged", "terminal", f"{kind} with bytes 12..600 randomised (magic kept)")
    noisy = bytearray(data)
    for _ in range(len(noisy) // 50):
        noisy[rng.randrange(len(noisy) // 4, len(noisy))] = rng.randrange(256)
    put(f"bitflips.{kind}", bytes(noisy), "damaged", "terminal", f"{kind} with 2% of the bytes past the first quarter randomised")
put("magic-only.mp4", b"\0\0\0\x20ftypisom" + b"\0" * 200, "damaged", "refused", "an ftyp box and zeros")
put("zeros.ts", b"G" + b"\0" * 187 + b"G" + b"\0" * 4000, "damaged", "refused", "two TS sync bytes and zeros")

# --- File names with path tricks (valid clips, each made distinct). ------------------------------------------------
names = {
    "name-dotdot": "../../../../tmp/litevl-escape.mp4",
    "name-absolute": "/etc/litevl-absolute.mp4",
    "name-control": "a\x01b\x1b[31mred\x1b[0m\r\nINFO: forged log line.mp4",
    "name-nul": "clip\x00.mp4",
    "name-long": "x" * 1000 + ".mp4",
    "name-rtl": "clip\u202egpj.mp4",
    "name-backslash": "..\\..\\windows\\evil.mp4",
    "name-dots": "..",
}
for key, name in names.items():
    put(key + ".mp4", unique(clip["mp4"], key), "name", "terminal", f"a valid clip sent as {name!r}", name=name)

# --- Archives for `litevl ingest`. ---------------------------------------------------------------------------------
ok = unique(clip["mp4"], "archive-ok")
escape = "../../../../../../tmp/litevl-zipslip.mp4"
z = os.path.join(archives, "hostile.zip")
with zipfile.ZipFile(z, "w") as a:
    a.writestr("ok.mp4", ok)
    a.writestr(escape, clip["mp4"])
    a.writestr("/tmp/litevl-zip-absolute.mp4", clip["mp4"])
    link = zipfile.ZipInfo("link.mp4")
    link.external_attr = (0o120777 << 16)
    a.writestr(link, canary_mp4)
    dev = zipfile.ZipInfo("device.mp4")
    dev.external_attr = (0o020644 << 16)
    a.writestr(dev, b"")
records.append({"file": "archives/hostile.zip", "kind": "ingest", "category": "archive", "expect": "refused", "name": "hostile.zip",
                "description": "zip: zip-slip, absolute path, symlink to the canary, device entry, one good clip",
                "rejected": [escape, "/tmp/litevl-zip-absolute.mp4", "link.mp4", "device.mp4"], "uploaded": ["ok.mp4"],
                "outside": ["/tmp/litevl-zipslip.mp4", "/tmp/litevl-zip-absolute.mp4"]})
def add(t, name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data)
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    t.addfile(info, io.BytesIO(data) if data else None)
for ext, mode in (("tar", "w"), ("tar.gz", "w:gz")):
    with tarfile.open(os.path.join(archives, "hostile." + ext), mode, format=tarfile.GNU_FORMAT) as t:
        add(t, "ok.mp4", unique(clip["mp4"], "tar-ok-" + ext))
        add(t, "../../../../../../tmp/litevl-tarslip.mp4", clip["mp4"])
        add(t, "/tmp/litevl-tar-absolute.mp4", clip["mp4"])
        add(t, "symlink.mp4", kind=tarfile.SYMTYPE, linkname=canary_mp4)
        add(t, "hardlink.mp4", kind=tarfile.LNKTYPE, linkname=canary_mp4)
        add(t, "chardev.mp4", kind=tarfile.CHRTYPE)
        add(t, "blockdev.mp4", kind=tarfile.BLKTYPE)
        add(t, "fifo.mp4", kind=tarfile.FIFOTYPE)
        # A symlinked folder followed by a file "through" it: a classic two-step escape.
        add(t, "dir", kind=tarfile.SYMTYPE, linkname="/tmp")
        add(t, "dir/litevl-through-link.mp4", clip["mp4"])
    records.append({"file": "archives/hostile." + ext, "kind": "ingest", "category": "archive", "expect": "refused", "name": "hostile." + ext,
                    "description": ext + ": tar-slip, absolute path, symlink and hard link to the canary, devices, FIFO, a file through a symlinked folder",
                    "rejected": ["../../../../../../tmp/litevl-tarslip.mp4", "/tmp/litevl-tar-absolute.mp4", "symlink.mp4", "hardlink.mp4",
                                 "chardev.mp4", "blockdev.mp4", "fifo.mp4"],
                    "uploaded": ["ok.mp4", "dir/litevl-through-link.mp4"],
                    "outside": ["/tmp/litevl-tarslip.mp4", "/tmp/litevl-tar-absolute.mp4"]})

with open(os.path.join(out, "corpus.json"), "w") as f:
    json.dump({"canary": canary, "url": url, "fifo": fifo, "inputs": records}, f, indent=1)
print(f"hostile corpus: {sum(r['kind'] == 'upload' for r in records)} uploads, {sum(r['kind'] == 'ingest' for r in records)} archives in {out}")
PY

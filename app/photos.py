"""Citizen and proof photos: checked from their content, stripped of metadata, thumbnailed, kept on disk.

``store_photo`` takes the uploaded bytes and answers a ``Photo`` whose ``ref``
is random and unguessable (128 bits); the stored copy is re-encoded from the
pixels only, so EXIF (and its GPS position), XMP and text chunks never leave
the upload. ``photo_path`` maps a ref back to a file and refuses anything that
is not exactly a ref we could have made (no path traversal). Pillow only: no
Flask here; ``app.web_photos`` serves the files.
"""
from __future__ import annotations

import io
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from config.settings import Settings

MAX_BYTES = 10 * 1024 * 1024   # read at most this much of an upload (the rest is never read)
THUMB_SIZE = (320, 320)
PENDING = "pending"            # uploads not yet attached to a filed report live under photo_dir/pending
# Pillow format name -> (extension, content type) we accept and serve.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {ext: ctype for ext, ctype in FORMATS.values()}
_REF = re.compile(r"[0-9a-f]{32}(?:\.thumb)?\.(jpg|png|webp)")     # the whole ref: fullmatch


class PhotoInvalid(ValueError):
    """An upload that cannot be stored; the message says what is wrong in one line."""


class PhotoBusy(RuntimeError):
    """Every decode slot of this process stayed taken: the client should retry in a moment (503)."""

    retry_after = 5


@dataclass(frozen=True)
class Photo:
    ref: str             # e.g. "3f9c...e1.jpg": what a report keeps in ``photos``
    content_type: str    # checked from the content, not from the file name
    width: int
    height: int
    thumb_ref: str       # e.g. "3f9c...e1.thumb.jpg"
    thumb: bytes = field(default=b"", repr=False)   # the thumbnail's JPEG bytes (a pending upload's preview)


# At most PANTAU_PHOTO_DECODES decodes run at once in a process, whatever the number of threads: a
# decode holds up to a few hundred MB for a moment, so a burst of uploads waits its turn or gets a 503.
_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _decode_slots(settings) -> threading.BoundedSemaphore:
    size = max(1, int(settings.photo_decodes))
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def photo_dir(settings) -> Path:
    configured = settings.photo_dir
    return Path(configured) if configured else Path(settings.data_dir) / "photos"


def is_ref(ref) -> bool:
    return isinstance(ref, str) and bool(_REF.fullmatch(ref))   # (``$`` would let a trailing newline in)


def content_type_of(ref: str) -> str:
    if not is_ref(ref):
        raise PhotoInvalid("photo: not a photo reference")
    return CONTENT_TYPES[ref.rsplit(".", 1)[1]]


def photo_path(settings, ref: str, pending: bool = False) -> Path:
    """The file of ``ref`` (``pending``: where an unattached upload waits); raises PhotoInvalid for
    anything that is not a well-formed ref."""
    if not is_ref(ref):
        raise PhotoInvalid("photo: not a photo reference")
    # Fan out over 256 sub-folders so no folder grows too large.
    base = photo_dir(settings) / PENDING if pending else photo_dir(settings)
    return base / ref[:2] / ref


def _limits(settings) -> tuple[int, int]:
    return int(settings.photo_max_pixels), int(settings.photo_max_side)


def _open_checked(settings, data: bytes) -> Image.Image:
    """The image, opened lazily: its size is checked from the header, nothing is decoded yet."""
    if not isinstance(data, (bytes, bytearray)):
        raise PhotoInvalid("photo: must be the file's bytes")
    if len(data) == 0:
        raise PhotoInvalid("photo: the file is empty")
    if len(data) > MAX_BYTES:
        raise PhotoInvalid(f"photo: at most {MAX_BYTES // 1024 // 1024} MB "
                           f"(got more than {len(data) / 1024 / 1024:.1f} MB)")
    max_pixels, max_side = _limits(settings)
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise PhotoInvalid("photo: must be a JPEG, PNG or WebP image (the content is not one)") from None
    except Image.DecompressionBombError:
        # Pillow's own guard (far above ours) fired while reading the header.
        raise PhotoInvalid(f"photo: at most {max_pixels // 1_000_000} megapixels and {max_side} pixels a "
                           f"side (the header declares far more: a decompression bomb)") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise PhotoInvalid(f"photo: unreadable image ({str(err)[:80]})") from None
    width, height = image.size
    if width < 1 or height < 1 or width > max_side or height > max_side or width * height > max_pixels:
        raise PhotoInvalid(f"photo: at most {max_pixels // 1_000_000} megapixels and {max_side} pixels a "
                           f"side (the header declares {width}x{height})")
    return image


def _decode(image: Image.Image, stored_side: int) -> Image.Image:
    """Decode, reading JPEGs at a reduced scale when the kept copy is smaller (``draft``): the memory a
    decode takes is bounded by the pixel cap, and by a quarter to a sixty-fourth of it for JPEGs."""
    if image.format == "JPEG" and max(image.size) > stored_side:
        image.draft("RGB" if image.mode not in ("L", "CMYK") else image.mode, (stored_side, stored_side))
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise PhotoInvalid(f"photo: damaged or truncated image ({str(err)[:80]})") from None
    return image


def _pixels_only(image: Image.Image, fmt: str, stored_side: int) -> Image.Image:
    """A copy at most ``stored_side`` a side, with the camera's orientation applied and no metadata at
    all (not even an ICC profile)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    mode = "RGBA" if has_alpha and fmt != "JPEG" else "RGB"
    orientation = image.getexif().get(0x0112, 1)
    factor = max(image.size) // stored_side
    if factor > 1:
        # A cheap reduction first, in the decoded mode, and the full-size pixels let go at once:
        # no full-size copy in another mode is ever made (palette images: nearest pixels).
        source = image
        if image.mode in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):
            image = image.reduce(factor)
        else:
            image = image.resize((image.width // factor, image.height // factor), Image.Resampling.NEAREST)
        source.close()
    if image.mode != mode:
        image = image.convert(mode)
    if max(image.size) > stored_side:
        image.thumbnail((stored_side, stored_side), Image.Resampling.LANCZOS)
    if orientation in range(2, 9):
        image = image.transpose({2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                                 4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                                 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                                 8: Image.Transpose.ROTATE_90}[orientation])
    # Rebuilt from the pixels alone: the new image carries no info, EXIF, XMP or text chunks.
    clean = Image.new(mode, image.size)
    clean.paste(image)
    return clean


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG")
    else:
        image.save(out, "WEBP", quality=85)
    return out.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def store_photo(settings, data: bytes, filename: str | None = None, pending: bool = False) -> Photo:
    """Check, strip, thumbnail and store an uploaded photo; raises PhotoInvalid (or PhotoBusy when
    every decode slot stayed taken for ``photo_decode_wait_s``).

    ``filename`` is only a hint for messages: the type is read from the content. ``pending``: the
    upload waits under ``pending/`` (never served) until ``attach`` moves it beside the others once
    its report is filed; ``sweep_pending`` removes those never attached.
    """
    image = _open_checked(settings, data)      # the header alone: a bomb is refused before decoding
    fmt = image.format
    if fmt not in FORMATS:
        raise PhotoInvalid(f"photo: must be a JPEG, PNG or WebP image (got {fmt})")
    ext, content_type = FORMATS[fmt]
    stored_side = int(settings.photo_stored_side)
    slots = _decode_slots(settings)
    if not slots.acquire(timeout=float(settings.photo_decode_wait_s)):
        raise PhotoBusy("photo: the server is busy with other photos; try again in a few seconds")
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)  # animated WebP/PNG: the first frame is the photo
        clean = _pixels_only(_decode(image, stored_side), fmt, stored_side)
        del image
        body = _encode(clean, fmt)
        thumb = clean.convert("RGB")
        thumb.thumbnail(THUMB_SIZE)
        thumb_out = io.BytesIO()
        thumb.save(thumb_out, "JPEG", quality=80)
    finally:
        slots.release()

    stem = secrets.token_hex(16)
    ref, thumb_ref = f"{stem}.{ext}", f"{stem}.thumb.jpg"
    _write(photo_path(settings, ref, pending), body)
    _write(photo_path(settings, thumb_ref, pending), thumb_out.getvalue())
    return Photo(ref=ref, content_type=content_type, width=clean.width, height=clean.height,
                 thumb_ref=thumb_ref, thumb=thumb_out.getvalue())


def thumb_ref_of(ref: str) -> str | None:
    """The thumbnail's ref for a photo ref (None for a ref that is not ours)."""
    if not is_ref(ref) or ".thumb." in ref:
        return None
    return ref.split(".", 1)[0] + ".thumb.jpg"


def _pair(ref: str) -> list[str]:
    thumb = thumb_ref_of(ref)
    if thumb is None:
        raise PhotoInvalid("photo: not a photo reference")
    return [ref, thumb]


def attach(settings, ref: str) -> bool:
    """Move a pending upload (and its thumbnail) beside the kept photos: its report is filed. True
    when this call moved it; False for a ref attached already (the same form sent twice); one swept
    or never uploaded raises PhotoInvalid."""
    moved = False
    for name in _pair(ref):
        final, waiting = photo_path(settings, name), photo_path(settings, name, pending=True)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(waiting, final)
            moved = True
        except FileNotFoundError:
            if not final.is_file():
                raise PhotoInvalid("photo: the upload expired or is unknown; upload the photo again") from None
    return moved


def detach(settings, ref: str) -> None:
    """Undo ``attach`` when filing failed after it: the photo waits (and expires) again."""
    for name in _pair(ref):
        final, waiting = photo_path(settings, name), photo_path(settings, name, pending=True)
        try:
            waiting.parent.mkdir(parents=True, exist_ok=True)
            os.replace(final, waiting)
        except FileNotFoundError:
            pass


def sweep_pending(settings, now: float | None = None) -> int:
    """Remove uploads left pending longer than ``photo_pending_ttl_s`` (never attached to a filed
    report); the number of files removed."""
    now = time.time() if now is None else now
    ttl = float(settings.photo_pending_ttl_s)
    folder = photo_dir(settings) / PENDING
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.glob("*/*"):
        try:
            if path.stat().st_mtime < now - ttl:
                path.unlink()
                removed += 1
        except FileNotFoundError:      # attached or swept meanwhile
            continue
    return removed


def main(argv=None) -> int:
    """``python -m app.photos sweep [--every S]``: remove expired pending uploads (once, or every S s)."""
    import argparse
    import logging

    parser = argparse.ArgumentParser(prog="python -m app.photos", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="remove uploads never attached to a filed report")
    sweep.add_argument("--every", type=float, default=0, help="repeat every this many seconds (0: once)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("pantau.photos")
    settings = Settings.for_command()
    while True:
        removed = sweep_pending(settings)
        if removed:
            log.info("removed %d expired pending photo files", removed)
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    import sys

    sys.exit(main())

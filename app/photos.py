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
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000          # refuse decompression bombs before decoding
THUMB_SIZE = (320, 320)
# Pillow format name -> (extension, content type) we accept and serve.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {ext: ctype for ext, ctype in FORMATS.values()}
_REF = re.compile(r"^[0-9a-f]{32}(?:\.thumb)?\.(jpg|png|webp)$")


class PhotoInvalid(ValueError):
    """An upload that cannot be stored; the message says what is wrong in one line."""


@dataclass(frozen=True)
class Photo:
    ref: str             # e.g. "3f9c...e1.jpg": what a report keeps in ``photos``
    content_type: str    # checked from the content, not from the file name
    width: int
    height: int
    thumb_ref: str       # e.g. "3f9c...e1.thumb.jpg"


def photo_dir(settings) -> Path:
    configured = getattr(settings, "photo_dir", None)
    return Path(configured) if configured else Path(settings.data_dir) / "photos"


def is_ref(ref) -> bool:
    return isinstance(ref, str) and bool(_REF.match(ref))


def content_type_of(ref: str) -> str:
    if not is_ref(ref):
        raise PhotoInvalid("photo: not a photo reference")
    return CONTENT_TYPES[ref.rsplit(".", 1)[1]]


def photo_path(settings, ref: str) -> Path:
    """The file of ``ref``; raises PhotoInvalid for anything that is not a well-formed ref."""
    if not is_ref(ref):
        raise PhotoInvalid("photo: not a photo reference")
    # Fan out over 256 sub-folders so no folder grows too large.
    return photo_dir(settings) / ref[:2] / ref


def _open_checked(data: bytes) -> Image.Image:
    if not isinstance(data, (bytes, bytearray)):
        raise PhotoInvalid("photo: must be the file's bytes")
    if len(data) == 0:
        raise PhotoInvalid("photo: the file is empty")
    if len(data) > MAX_BYTES:
        raise PhotoInvalid(f"photo: at most 10 MB (got {len(data) / 1024 / 1024:.1f} MB)")
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise PhotoInvalid("photo: must be a JPEG, PNG or WebP image (the content is not one)") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise PhotoInvalid(f"photo: unreadable image ({str(err)[:80]})") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise PhotoInvalid(f"photo: at most {MAX_PIXELS // 1_000_000} megapixels (got {width}x{height})")
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise PhotoInvalid(f"photo: damaged or truncated image ({str(err)[:80]})") from None
    return image


def _pixels_only(image: Image.Image, fmt: str) -> Image.Image:
    """A copy with the camera's orientation applied and no metadata at all (not even an ICC profile)."""
    image = ImageOps.exif_transpose(image) or image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    mode = "RGBA" if has_alpha and fmt != "JPEG" else "RGB"
    converted = image.convert(mode)
    # Rebuilt from raw pixels: the new image carries no info, EXIF, XMP or text chunks.
    return Image.frombytes(mode, converted.size, converted.tobytes())


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


def store_photo(settings, data: bytes, filename: str | None = None) -> Photo:
    """Check, strip, thumbnail and store an uploaded photo; raises PhotoInvalid.

    ``filename`` is only a hint for messages: the type is read from the content.
    """
    image = _open_checked(data)
    fmt = image.format
    if fmt not in FORMATS:
        raise PhotoInvalid(f"photo: must be a JPEG, PNG or WebP image (got {fmt})")
    ext, content_type = FORMATS[fmt]
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated WebP/PNG: the first frame is the photo
    clean = _pixels_only(image, fmt)
    body = _encode(clean, fmt)
    thumb = clean.convert("RGB")
    thumb.thumbnail(THUMB_SIZE)
    thumb_out = io.BytesIO()
    thumb.save(thumb_out, "JPEG", quality=80)

    stem = secrets.token_hex(16)
    ref, thumb_ref = f"{stem}.{ext}", f"{stem}.thumb.jpg"
    _write(photo_path(settings, ref), body)
    _write(photo_path(settings, thumb_ref), thumb_out.getvalue())
    return Photo(ref=ref, content_type=content_type, width=clean.width, height=clean.height,
                 thumb_ref=thumb_ref)


def thumb_ref_of(ref: str) -> str | None:
    """The thumbnail's ref for a photo ref (None for a ref that is not ours)."""
    if not is_ref(ref) or ".thumb." in ref:
        return None
    return ref.split(".", 1)[0] + ".thumb.jpg"

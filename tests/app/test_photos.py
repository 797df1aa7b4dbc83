"""Photos: content-checked, metadata stripped, thumbnailed, served with their checked type only."""
import io

import pytest
from PIL import Image

from app import photos
from config.settings import Settings


def _image_bytes(fmt="JPEG", size=(640, 480), exif_gps=False, mode="RGB"):
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    out = io.BytesIO()
    kwargs = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "CameraMaker"                     # Make
        exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 40.0)}  # GPS IFD
        kwargs["exif"] = exif.tobytes()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "var")


@pytest.mark.parametrize("fmt,ctype", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_store_strips_location_and_makes_thumbnail(settings, fmt, ctype):
    data = _image_bytes(fmt, exif_gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the upload does carry GPS
    photo = photos.store_photo(settings, data, "IMG_0001.bin")
    assert photo.content_type == ctype and (photo.width, photo.height) == (640, 480)
    stored = photos.photo_path(settings, photo.ref).read_bytes()
    assert b"CameraMaker" not in stored
    reopened = Image.open(io.BytesIO(stored))
    assert not reopened.getexif() and "exif" not in reopened.info
    thumb = Image.open(photos.photo_path(settings, photo.thumb_ref))
    assert max(thumb.size) <= 320 and thumb.format == "JPEG"
    assert photo.ref.startswith(photo.thumb_ref.split(".")[0])
    assert photos.photo_path(settings, photo.ref).is_relative_to(settings.data_dir / "photos")


def test_refs_are_random(settings):
    data = _image_bytes("PNG", size=(8, 8))
    assert photos.store_photo(settings, data, None).ref != photos.store_photo(settings, data, None).ref


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "JPEG, PNG or WebP"),
    (b"GIF89a" + b"\x00" * 100, "JPEG, PNG or WebP"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 50, "image"),
    (b"x" * (10 * 1024 * 1024 + 1), "at most 10 MB"),
])
def test_refuses_what_is_not_a_photo(settings, data, message):
    with pytest.raises(photos.PhotoInvalid) as err:
        photos.store_photo(settings, data, "evil.jpg")
    assert message in str(err.value) and str(err.value).startswith("photo:")


def test_refuses_a_truncated_jpeg(settings):
    data = _image_bytes("JPEG", size=(400, 400))
    with pytest.raises(photos.PhotoInvalid):
        photos.store_photo(settings, data[: len(data) // 2], "half.jpg")


def test_gif_named_jpg_refused(settings):
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "GIF")
    with pytest.raises(photos.PhotoInvalid, match="JPEG, PNG or WebP"):
        photos.store_photo(settings, out.getvalue(), "cat.jpg")


@pytest.mark.parametrize("ref", ["../secret_key", "..%2fsecret", "/etc/passwd", "a" * 32 + ".jpg/../../x",
                                 "A" * 32 + ".jpg", "0" * 32 + ".gif", "0" * 31 + ".jpg", "", None, 5])
def test_photo_path_refuses_anything_but_a_ref(settings, ref):
    with pytest.raises(photos.PhotoInvalid):
        photos.photo_path(settings, ref)


def test_photo_dir_setting(tmp_path):
    settings = Settings.from_env({"PANTAU_DATA_DIR": str(tmp_path), "PANTAU_PHOTO_DIR": str(tmp_path / "p")})
    photo = photos.store_photo(settings, _image_bytes("PNG", size=(4, 4)), None)
    assert (tmp_path / "p" / photo.ref[:2] / photo.ref).is_file()


def test_served_with_checked_type_and_nosniff(live_app):
    import urllib.request
    import urllib.error

    services = live_app.extensions["pantau"]
    photo = photos.store_photo(services.settings, _image_bytes("WEBP"), "x.jpg")
    base = live_app.config["BASE_URL"]
    with urllib.request.urlopen(f"{base}/photos/{photo.ref}") as response:
        assert response.headers["Content-Type"] == "image/webp"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert Image.open(io.BytesIO(response.read())).format == "WEBP"
    with urllib.request.urlopen(f"{base}/photos/{photo.thumb_ref}") as response:
        assert response.headers["Content-Type"] == "image/jpeg"
    # An encoded traversal never reaches the photo route (the Dash page answers instead).
    with urllib.request.urlopen(f"{base}/photos/..%2F..%2Fsecret_key") as response:
        assert not response.headers["Content-Type"].startswith("image/")
    for bad in ["0" * 32 + ".jpg", "secret_key", "0" * 32 + ".thumb.png"]:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/photos/{bad}")
        assert err.value.code == 404

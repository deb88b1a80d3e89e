"""The emulator's pictures look like pictures: a sky above, land or sea below, the prompt's
words small in a corner, and no boxes where a font lacks Chinese glyphs."""

import io

import pytest
from PIL import Image, ImageStat

from gallery.seedream import emulator
from gallery.seedream.emulator import Picture, caption_text, render_jpeg


def draw(seed: int, prompt: str = "a lighthouse at dusk", size=(1024, 1024)) -> Image.Image:
    data = render_jpeg(Picture(prompt, seed, *size, 2.5, False))
    return Image.open(io.BytesIO(data)).convert("RGB")


def mean(image: Image.Image, box) -> list[float]:
    return ImageStat.Stat(image.crop(box)).mean


def sharpest_edge_per_column(image: Image.Image) -> int:
    """The median over columns of the biggest brightness step down each column: a horizon,
    a ridge or a sun makes one; soft colour blobs under film grain do not."""
    grey = image.convert("L").resize((512, 512))
    px = grey.load()
    steps = sorted(
        max(abs(px[x, y] - px[x, y + 3]) for y in range(40, 508)) for x in range(4, 512, 8)
    )
    return steps[len(steps) // 2]


@pytest.mark.parametrize("seed", range(0, 60, 5))
def test_a_picture_is_a_scene_with_edges_not_a_blur(seed):
    assert sharpest_edge_per_column(draw(seed)) > 25


def test_twelve_seeds_give_many_different_scenes():
    skies = {tuple(round(c / 16) for c in mean(draw(seed), (0, 0, 1024, 64))) for seed in range(12)}
    assert len(skies) >= 5


def test_caption_keeps_the_prompts_first_words():
    assert caption_text("A porcelain fox in morning fog, soft light", cjk_font=False) == (
        "A porcelain fox in morning fog"
    )


def test_caption_without_a_cjk_font_keeps_only_latin_letters():
    assert caption_text("瓷器狐狸，晨雾 porcelain fox", cjk_font=False) == "porcelain fox"
    assert caption_text("瓷器狐狸，晨雾，柔和光线", cjk_font=False) == ""


def test_caption_with_a_cjk_font_keeps_chinese_short():
    words = caption_text("瓷器狐狸，晨雾，柔和光线，极致细节，电影感构图", cjk_font=True)
    assert words.startswith("瓷器狐狸") and len(words) <= 18


def test_a_chinese_prompt_without_a_cjk_font_draws_no_caption(monkeypatch):
    monkeypatch.setattr(emulator, "CJK_FONT_PATHS", ("/nonexistent/font.ttc",))
    emulator.cjk_font_path.cache_clear()
    try:
        blank = Image.new("RGB", (1024, 1024), (90, 120, 200))
        chinese, latin = blank.copy(), blank.copy()
        emulator._caption(chinese, "瓷器狐狸，晨雾")
        emulator._caption(latin, "porcelain fox")
        assert chinese.tobytes() == blank.tobytes()  # no boxes where glyphs are missing
        assert latin.crop((0, 0, 400, 60)).getcolors(1_000_000) != [(400 * 60, (90, 120, 200))]
    finally:
        emulator.cjk_font_path.cache_clear()

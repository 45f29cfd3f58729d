"""`ccl-embed mcp`, driven by the official MCP SDK's own client over stdio."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sys

import pytest
from PIL import Image

import ccl_embed
from tests.conftest import draw, make_folder

mcp = pytest.importorskip("mcp", reason="the serve extra is not installed")


async def _session(args: list[str], env: dict[str, str], calls):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "ccl_embed.cli", "mcp", *args], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            session.started = await session.initialize()  # serverInfo, for the tests to read
            return await calls(session)


def test_image_tools_over_stdio(tmp_path, tiny_model):
    folder = make_folder(tmp_path / "f")
    with ccl_embed.open("t", store=tmp_path / "store", model=tiny_model, device="cpu") as index:
        index.ingest(folder)
    more = tmp_path / "more"
    more.mkdir()
    draw("yellow", "ring").save(more / "ring.png")
    (more / "bad.png").write_bytes(b"nope")

    async def calls(session):
        tools = {t.name for t in (await session.list_tools()).tools}
        images = await session.call_tool("search_images", {"query": "a blue circle", "limit": 2})
        texts = await session.call_tool("search_texts", {"query": "a red square", "limit": 3})
        similar = await session.call_tool("find_similar", {"image_path": str(folder / "green-bar.png"), "limit": 1})
        listed = {t.name: t.description for t in (await session.list_tools()).tools}
        outside = await session.call_tool("ingest_folder", {"path": str(folder)})
        climbing = await session.call_tool("ingest_folder", {"path": str(more / "..")})
        added = await session.call_tool("ingest_folder", {"path": str(more)})
        missing = await session.call_tool("find_similar", {"image_path": str(tmp_path / "nope.png")})
        filtered = await session.call_tool("search_images", {"query": "a shape", "limit": 5,
                                                             "filters": ["label:yellow"], "collection": "t"})
        texts_like = await session.call_tool("find_similar", {"image_path": str(folder / "green-bar.png"),
                                                              "modality": "text", "limit": 2})
        unreadable = await session.call_tool("find_similar", {"image_path": str(more / "bad.png")})
        elsewhere = await session.call_tool("search_texts", {"query": "x", "collection": "nope"})
        assert [c.text.split()[2] for c in filtered.content if c.type == "text"] == ["labelled/square.png"]
        assert [c.text.split()[1] for c in texts_like.content if c.type == "text"] == ["text", "text"]
        assert session.started.serverInfo.version == ccl_embed.__version__  # ccl-embed's, not the SDK's
        assert unreadable.isError and str(more / "bad.png") in unreadable.content[0].text
        assert "upload" not in unreadable.content[0].text
        assert elsewhere.isError and "'nope' does not exist" in elsewhere.content[0].text

        assert str(more.resolve()) in listed["ingest_folder"]  # the agent is told which folders it may add
        for refused in (outside, climbing):
            assert refused.isError and "outside the folders the user allowed" in refused.content[0].text
        return tools, images, texts, similar, added, missing

    env = {**os.environ, "CCL_EMBED_STORE": str(tmp_path / "store")}
    tools, images, texts, similar, added, missing = asyncio.run(
        _session(["--model", str(tiny_model), "-c", "t", "--device", "cpu", "--ingest-under", str(more)], env, calls))
    assert tools == {"search_images", "search_texts", "find_similar", "ingest_folder"}
    kinds = [c.type for c in images.content]
    assert kinds == ["text", "image", "text", "image"] and not images.isError
    picture = images.content[1]
    assert picture.mimeType == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(picture.data))) as img:
        assert img.format == "JPEG" and max(img.size) <= 256
    assert images.content[0].text.split()[1] == "image" and "(id " in images.content[0].text
    lines = texts.content[0].text.splitlines()
    assert len(lines) == 3 and all(line.split()[1] == "text" for line in lines)
    assert "green-bar.png" in similar.content[0].text and similar.content[0].text.startswith("1.0000")
    report = added.content[0].text
    assert report.startswith("1 added, 0 unchanged, 1 skipped") and "skipped bad.png" in report and "20 points" in report
    assert missing.isError and "no such file" in missing.content[0].text


def test_ingest_folder_is_off_unless_the_user_allows_a_folder(tmp_path, tiny_model):
    with ccl_embed.open("t", store=tmp_path / "store", model=tiny_model, device="cpu") as index:
        index.ingest(make_folder(tmp_path / "f"))
        before = index.count()

    fresh = tmp_path / "fresh"  # a folder never ingested: refused, it must add nothing
    fresh.mkdir()
    draw("yellow", "ring").save(fresh / "ring.png")

    async def calls(session):
        listed = {t.name: t.description for t in (await session.list_tools()).tools}
        return listed, await session.call_tool("ingest_folder", {"path": str(fresh)})

    env = {**os.environ, "CCL_EMBED_STORE": str(tmp_path / "store")}
    listed, refused = asyncio.run(_session(["--model", str(tiny_model), "-c", "t", "--device", "cpu"], env, calls))
    assert "No folder is allowed" in listed["ingest_folder"]
    assert refused.isError and "--ingest-under" in refused.content[0].text
    with ccl_embed.open("t", store=tmp_path / "store", model=tiny_model, device="cpu") as index:
        assert index.count() == before  # nothing more was stored

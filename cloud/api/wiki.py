"""/api/v1/wiki: markdown articles by slug (drafts visible to writers only; never rendered here)."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, register
from cloud.api.resource_routes import body_schema, list_query, row_schema
from cloud.api.schemas import page_of
from cloud.services import wiki as service

ops = OperationGroup(tag="wiki", resource="wiki_article", description="Wiki articles (markdown)")

ARTICLE = row_schema(service.WIKI)


@ops.get("/api/v1/wiki", role="viewer", query=list_query(service.WIKI), response=page_of(ARTICLE))
async def list_wiki_articles(call: Call):
    """A page of articles; viewers see published ones only."""
    return await call.db(service.list_articles, call.ctx, call.query)


@ops.post(
    "/api/v1/wiki",
    role="operator",
    status=201,
    body=body_schema(service.WIKI.fields, partial=False),
    response=ARTICLE,
    example={"slug": "bed-levelling", "title": "Levelling the bed", "content": "# Steps\n..."},
)
async def create_wiki_article(call: Call):
    """Create an article (a draft unless is_published)."""
    return await call.db(service.create_article, call.ctx, call.body)


@ops.get("/api/v1/wiki/{slug}", role="viewer", response=ARTICLE)
async def get_wiki_article(call: Call):
    """One article by slug (content is markdown text, returned verbatim)."""
    return await call.db(service.get_article, call.ctx, call.params["slug"])


@ops.patch(
    "/api/v1/wiki/{slug}",
    role="operator",
    body=body_schema(service.WIKI.fields, partial=True),
    response=ARTICLE,
    example={"is_published": True},
)
async def update_wiki_article(call: Call):
    """Change an article (its slug too)."""
    article = await call.db(service.update_article, call.ctx, call.params["slug"], call.body)
    call.audit.entity_id = article["id"]
    call.audit.details = {"slug": article["slug"], "fields": sorted(call.body)}
    return article


@ops.delete("/api/v1/wiki/{slug}", role="operator")
async def delete_wiki_article(call: Call):
    """Delete an article by slug."""
    call.audit.details = {"slug": call.params["slug"]}
    await call.db(service.delete_article, call.ctx, call.params["slug"])


def setup(app: web.Application) -> None:
    """Add the wiki routes."""
    register(app, ops)

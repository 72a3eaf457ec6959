"""Wiki articles: markdown by slug, published or draft. Content is stored and returned as text,
never rendered or executed by the server (the UI renders it, sanitised)."""

import re

from cloud.errors import not_found, validation_error
from cloud.models import WikiArticle
from cloud.services import crud
from cloud.services.fields import clean, flag, integer, json_value, string_list, text

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_CONTENT = 500_000
# Roles that may see drafts (writers); viewers read only what is published.
DRAFT_READERS = ("owner", "admin", "operator")

WIKI = crud.Resource(
    name="wiki article",
    model=WikiArticle,
    fields={
        "slug": text(100, required=True),
        "title": text(200, required=True),
        "content": text(MAX_CONTENT),
        "category": text(100),
        "tags": json_value(string_list),
        "sort_order": integer(-1_000_000, 1_000_000),
        "is_published": flag(),
    },
    unique=(("slug",),),
    filters={
        "category": crud.Filter("category"),
        "is_published": crud.Filter("is_published", "bool"),
    },
    search=("title", "slug", "category"),
    sortable=("sort_order", "title", "slug", "created_at", "updated_at"),
    default_sort="sort_order",
)


def _check_slug(values: dict) -> None:
    slug = values.get("slug")
    if slug is not None and not SLUG.match(slug):
        raise validation_error("slug", "'slug' must be lower-case words joined by '-'")


def _visible(ctx):
    query = WikiArticle.scoped(ctx)
    if ctx.role not in DRAFT_READERS:
        query = query.where(WikiArticle.is_published == True)  # noqa: E712 - peewee expression
    return query


def list_articles(ctx, params) -> dict:
    """One page of articles (drafts only for writers; filters: category, is_published)."""
    return crud.list_rows(ctx, WIKI, params, query=_visible(ctx))


def get_article(ctx, slug) -> dict:
    """One article by slug (a draft is 'not found' for a viewer)."""
    if not isinstance(slug, str) or len(slug) > 100:
        raise not_found("wiki article", slug)
    row = _visible(ctx).where(WikiArticle.slug == slug).first()
    if row is None:
        raise not_found("wiki article", slug)
    return crud.to_api(WIKI, row)


def create_article(ctx, data) -> dict:
    """Create an article (draft unless is_published)."""
    values = clean(ctx, data, WIKI.fields, partial=False)
    _check_slug(values)
    values["created_by"] = values["updated_by"] = ctx.user_id
    return crud.to_api(WIKI, crud.create_row(ctx, WIKI, values))


def update_article(ctx, slug, data) -> dict:
    """Change an article found by slug (the slug itself may change)."""
    values = clean(ctx, data, WIKI.fields, partial=True)
    _check_slug(values)
    values["updated_by"] = ctx.user_id
    row = _by_slug(ctx, slug)
    return crud.to_api(WIKI, crud.update_row(ctx, WIKI, row.id, values))


def delete_article(ctx, slug) -> None:
    """Delete an article by slug."""
    crud.delete_row(ctx, WIKI, _by_slug(ctx, slug).id)


def _by_slug(ctx, slug):
    row = None
    if isinstance(slug, str) and len(slug) <= 100:
        row = WikiArticle.scoped(ctx).where(WikiArticle.slug == slug).first()
    if row is None:
        raise not_found("wiki article", slug)
    return row

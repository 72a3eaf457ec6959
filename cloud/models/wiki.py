"""Wiki articles (markdown, stored as text, never executed)."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class WikiArticle(TenantModel):
    """Row of `wiki_articles`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    slug = TextField()
    title = TextField()
    content = TextField(null=True)
    category = TextField(null=True)
    tags = TextField(null=True)
    sort_order = IntegerField(default=0, null=True)
    is_published = FlagField(default=0, null=True)
    created_by = TextField(null=True)
    updated_by = TextField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "wiki_articles"

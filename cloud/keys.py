"""Typed aiohttp AppKeys: the one place that names what `create_app` stores on the application."""

from concurrent.futures import ThreadPoolExecutor

import peewee
from aiohttp import web

from cloud.config import Config

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", peewee.Database)
DB_EXECUTOR = web.AppKey("db_executor", ThreadPoolExecutor)
# Values below are set by their modules' setup(app); typed loosely to keep imports acyclic.
KV = web.AppKey("kv", object)  # cloud.kv.KeyValueStore
METRICS = web.AppKey("metrics", object)  # cloud.metrics.Metrics
OPERATIONS = web.AppKey("operations", object)  # cloud.api.operations.OperationRegistry
SECRETBOX = web.AppKey("secretbox", object)  # cloud.security.secretbox.SecretBox
TOKENS = web.AppKey("tokens", object)  # cloud.security.tokens.AccessTokens
PASSWORDS = web.AppKey("passwords", object)  # cloud.security.passwords.PasswordHasher
RATE_LIMITER = web.AppKey("rate_limiter", object)  # cloud.services.ratelimit.RateLimiter

# Per-request values set by middlewares.
REQUEST_ID = web.RequestKey("request_id", str)
ERROR_CODE = web.RequestKey("error_code", str)  # stable code of an error response (metrics label)
CALLER = web.RequestKey("caller", tuple)  # (user_id, tenant_id) once authenticated (access log)
STORAGE = web.AppKey("storage", object)  # cloud.storage.Storage
URL_SIGNER = web.AppKey("url_signer", object)  # cloud.storage.UrlSigner
REALTIME = web.AppKey("realtime", object)  # cloud.realtime.runtime.Realtime
WORKERS = web.AppKey("workers", object)  # cloud.workers.runtime.Workers

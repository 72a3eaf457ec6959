"""Auth over real HTTP: register, login, tenant choice, refresh rotation + reuse detection, logout,
password change, and the unhappy paths (bad input, wrong credentials, expired/forged tokens)."""

import asyncio

import jwt

from tests.cloud.conftest import DEFAULT_PASSWORD


async def test_register_returns_a_working_session(live_server):
    owner = await live_server.register(email="Ada@Example.com", tenant_name="Ada's Farm")
    assert owner.role == "owner"
    assert owner.email == "ada@example.com"  # emails compare case-insensitively
    me = await owner.api.get("/api/v1/auth/me")
    assert me.status == 200
    assert me.json["user"]["id"] == owner.user_id
    assert me.json["tenant"]["id"] == owner.tenant_id
    assert me.json["tenant"]["slug"] == "ada-s-farm"
    assert me.json["tenants"] == [
        {"tenant_id": owner.tenant_id, "name": "Ada's Farm", "slug": "ada-s-farm", "role": "owner"}
    ]


async def test_register_refuses_bad_input_and_duplicates(live_server):
    anon = live_server.client()
    r = await anon.post(
        "/api/v1/auth/register",
        json={"email": "x@example.com", "password": "short", "tenant_name": "F"},
    )
    assert (r.status, r.error_code, r.json["error"]["field"]) == (
        422,
        "validation_error",
        "password",
    )
    r = await anon.post(
        "/api/v1/auth/register",
        json={"email": "not-an-email", "password": DEFAULT_PASSWORD, "tenant_name": "F"},
    )
    assert (r.status, r.json["error"]["field"]) == (422, "email")
    r = await anon.post(
        "/api/v1/auth/register", json={"email": "x@example.com", "password": DEFAULT_PASSWORD}
    )
    assert (r.status, r.json["error"]["field"]) == (422, "tenant_name")
    r = await anon.post(
        "/api/v1/auth/register", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (r.status, r.error_code) == (400, "invalid_json")
    r = await anon.post("/api/v1/auth/register", json=["a", "list"])
    assert r.status == 422
    await live_server.register(email="dup@example.com")
    r = await anon.post(
        "/api/v1/auth/register",
        json={"email": "DUP@example.com", "password": DEFAULT_PASSWORD, "tenant_name": "Other"},
    )
    assert (r.status, r.error_code, r.json["error"]["field"]) == (409, "conflict", "email")


async def test_login_with_wrong_credentials_is_401_and_same_for_unknown_email(live_server):
    owner = await live_server.register()
    anon = live_server.client()
    wrong = await anon.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": "wrong password!"}
    )
    unknown = await anon.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever123"}
    )
    assert wrong.status == unknown.status == 401
    assert wrong.json == unknown.json  # no account enumeration
    ok = await live_server.login(owner.email)
    assert ok.tenant_id == owner.tenant_id and ok.role == "owner"


async def test_user_in_two_tenants_chooses_one_per_token(live_server):
    alice = await live_server.register()
    bob = await live_server.register()
    r = await bob.api.post("/api/v1/members", json={"email": alice.email, "role": "operator"})
    assert r.status == 201
    in_bob = await live_server.login(alice.email, tenant_id=bob.tenant_id)
    assert (in_bob.tenant_id, in_bob.role) == (bob.tenant_id, "operator")
    me = await in_bob.api.get("/api/v1/auth/me")
    assert {t["tenant_id"] for t in me.json["tenants"]} == {alice.tenant_id, bob.tenant_id}
    # The token's tenant decides what the requests see.
    await alice.api.post("/api/v1/printers", json={"name": "A-only", "model": "P1S"})
    names = [p["name"] for p in (await in_bob.api.get("/api/v1/printers")).json["items"]]
    assert names == []
    # Not a member: refused, nothing issued.
    stranger = await live_server.register()
    r = await live_server.client().post(
        "/api/v1/auth/login",
        json={"email": alice.email, "password": DEFAULT_PASSWORD, "tenant_id": stranger.tenant_id},
    )
    assert (r.status, r.error_code) == (403, "not_a_member")
    # Switch tenants on refresh.
    r = await live_server.client().post(
        "/api/v1/auth/refresh",
        json={"refresh_token": alice.refresh_token, "tenant_id": bob.tenant_id},
    )
    assert (
        r.status == 200 and r.json["tenant"]["id"] == bob.tenant_id and r.json["role"] == "operator"
    )


async def test_refresh_rotates_and_reuse_revokes_the_family(live_server):
    owner = await live_server.register()
    anon = live_server.client()
    first = await anon.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert first.status == 200
    second_token = first.json["refresh_token"]
    assert second_token != owner.refresh_token
    assert (
        await live_server.client(first.json["access_token"]).get("/api/v1/auth/me")
    ).status == 200
    # The spent token comes back (stolen copy): refused, and the whole family dies.
    reuse = await anon.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert (reuse.status, reuse.error_code) == (401, "refresh_token_reused")
    after = await anon.post("/api/v1/auth/refresh", json={"refresh_token": second_token})
    assert (after.status, after.error_code) == (401, "refresh_token_reused")
    # Another login session (another family) is unaffected.
    other = await live_server.login(owner.email)
    assert (
        await anon.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    ).status == 200
    audit = await other.api.get("/api/v1/audit", params={"action": "session.refresh_token_reused"})
    assert len(audit.json) == 2
    unknown = await anon.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert (unknown.status, unknown.error_code) == (401, "invalid_refresh_token")


async def test_concurrent_refresh_of_one_token_lets_exactly_one_win(live_server):
    owner = await live_server.register()
    anon = live_server.client()
    results = await asyncio.gather(
        *(
            anon.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
            for _ in range(4)
        )
    )
    assert sorted(r.status for r in results) == [200, 401, 401, 401]


async def test_expired_and_forged_access_tokens_are_401(live_server):
    owner = await live_server.register()
    secret = live_server.config.secret("jwt_secret")
    claims = jwt.decode(owner.access_token, options={"verify_signature": False})
    expired = jwt.encode({**claims, "exp": claims["iat"] - 10}, secret, algorithm="HS256")
    forged = jwt.encode({**claims, "tid": "other"}, b"not the server key" * 2, algorithm="HS256")
    none_alg = jwt.encode(claims, None, algorithm="none")
    for token, needle in (
        (expired, "expired"),
        (forged, "invalid"),
        (none_alg, "invalid"),
        ("garbage", "invalid"),
    ):
        r = await live_server.client(token).get("/api/v1/auth/me")
        assert r.status == 401 and needle in r.json["error"]["message"], (token, r.json)
        assert "WWW-Authenticate" in r.headers
    r = await live_server.client().get("/api/v1/printers")
    assert (r.status, r.error_code) == (401, "unauthorized")


async def test_short_lived_tokens_expire(server_factory):
    async with server_factory(access_token_ttl_ms=1000) as server:
        owner = await server.register()
        assert (await owner.api.get("/api/v1/auth/me")).status == 200
        claims = jwt.decode(owner.access_token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] <= 1
        await asyncio.sleep(2.1)  # JWT exp has one-second resolution
        r = await owner.api.get("/api/v1/auth/me")
        assert r.status == 401 and "expired" in r.json["error"]["message"]


async def test_logout_ends_the_session(live_server):
    owner = await live_server.register()
    other_device = await live_server.login(owner.email)
    r = await owner.api.post("/api/v1/auth/logout", json={"refresh_token": owner.refresh_token})
    assert r.status == 204
    r = await live_server.client().post(
        "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
    )
    assert r.status == 401
    r = await owner.api.get("/api/v1/printers")  # the access token of that session ends too
    assert r.status == 401 and "session has ended" in r.json["error"]["message"]
    assert (await other_device.api.get("/api/v1/printers")).status == 200  # other sessions live
    # Logout without a refresh token ends every session of the account.
    assert (await other_device.api.post("/api/v1/auth/logout", json={})).status == 204
    assert (await other_device.api.get("/api/v1/auth/me")).status == 401


async def test_refresh_token_theft_ends_the_thiefs_access_token(live_server):
    victim = await live_server.register()
    anon = live_server.client()
    thief = await anon.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert thief.status == 200
    thief_api = live_server.client(thief.json["access_token"])
    assert (await thief_api.get("/api/v1/printers")).status == 200
    # The victim's client presents the (now spent) token: reuse detected, family revoked.
    r = await anon.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert r.error_code == "refresh_token_reused"
    assert (await thief_api.get("/api/v1/printers")).status == 401
    assert (await victim.api.get("/api/v1/printers")).status == 401


async def test_password_change_revokes_sessions_and_checks_current(live_server):
    owner = await live_server.register()
    body = {"current_password": "not the password", "new_password": "a brand new secret"}
    r = await owner.api.post("/api/v1/auth/password", json=body)
    assert (r.status, r.json["error"]["field"]) == (403, "current_password")
    body["current_password"] = DEFAULT_PASSWORD
    assert (await owner.api.post("/api/v1/auth/password", json=body)).status == 204
    # Access tokens issued before the change die with it (not only the refresh tokens).
    for path in ("/api/v1/printers", "/api/v1/auth/me"):
        r = await owner.api.get(path)
        assert r.status == 401 and "password change" in r.json["error"]["message"], path
    assert (
        await live_server.client().post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
    ).status == 401
    old = await live_server.client().post(
        "/api/v1/auth/login", json={"email": owner.email, "password": DEFAULT_PASSWORD}
    )
    assert old.status == 401
    await live_server.login(owner.email, password="a brand new secret")


async def test_stored_password_is_argon2id_and_refresh_tokens_hashed(live_server):
    owner = await live_server.register()
    from cloud.db.executor import run_db
    from cloud.models.auth import RefreshToken, UserCredential

    def read():
        cred = UserCredential.get_by_id(owner.user_id)
        tokens = [
            t.token_hash for t in RefreshToken.select().where(RefreshToken.user_id == owner.user_id)
        ]
        return cred.password_hash, tokens

    password_hash, token_hashes = await run_db(live_server.app, read)
    assert password_hash.startswith("$argon2id$")
    assert owner.refresh_token not in token_hashes and len(token_hashes) == 1


async def test_concurrent_registrations_of_one_farm_name_all_succeed(live_server):
    anon = live_server.client()
    results = await asyncio.gather(
        *(
            anon.post(
                "/api/v1/auth/register",
                json={
                    "email": f"racer{i}@example.com",
                    "password": DEFAULT_PASSWORD,
                    "tenant_name": "Same Farm",
                },
            )
            for i in range(4)
        )
    )
    assert [r.status for r in results] == [201] * 4
    assert len({r.json["tenant"]["slug"] for r in results}) == 4
    dupes = await asyncio.gather(
        *(
            anon.post(
                "/api/v1/auth/register",
                json={
                    "email": "twin@example.com",
                    "password": DEFAULT_PASSWORD,
                    "tenant_name": f"T{i}",
                },
            )
            for i in range(3)
        )
    )
    assert sorted(r.status for r in dupes) == [201, 409, 409]

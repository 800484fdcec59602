#!/usr/bin/env bash
# test_wbctl_token.sh BUILD_DIR SOURCE_DIR: wbctl token mints HS256 JWTs.
# Each token is checked independently of our JWT code: python3's hmac and
# hashlib recompute the signature over the secret (from a file, trailing
# newline dropped, or from the environment), and the header and claims are
# decoded and compared with what was asked for (sub, name, roles, iat, exp).
set -uo pipefail
B=$1
WBCTL=$B/tools/wbctl
T=${WB_TEST_TMP:-/tmp}/wbctl-token-$$
rm -rf "$T"
mkdir -p "$T"
# shellcheck source=shtest.sh
source "$(dirname "$0")/shtest.sh"
# check_token SECRET PYTHON_ASSERTS: verifies the last line of $T/out; the
# asserts see h (header), c (claims), now.
check_token() {
    python3 - "$1" "$2" "$T/out" <<'EOF'
import base64, hashlib, hmac, json, sys, time
secret, asserts, path = sys.argv[1].encode(), sys.argv[2], sys.argv[3]
lines = open(path).read().splitlines()
tok = lines[-1]
assert tok.strip() == tok and tok.count(".") == 2, repr(tok)
def b64(s):
    assert "=" not in s
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
h64, p64, s64 = tok.split(".")
want = hmac.new(secret, (h64 + "." + p64).encode(), hashlib.sha256).digest()
assert hmac.compare_digest(b64(s64), want), "bad signature"
h, c, now = json.loads(b64(h64)), json.loads(b64(p64)), int(time.time())
assert h == {"alg": "HS256", "typ": "JWT"}, h
assert abs(c["iat"] - now) <= 5, (c["iat"], now)
exec(asserts)
# The token does not verify under another secret.
other = hmac.new(secret + b"x", (h64 + "." + p64).encode(), hashlib.sha256).digest()
assert not hmac.compare_digest(b64(s64), other)
EOF
}

[[ -x $WBCTL ]] || { echo "FAIL: $WBCTL not built"; exit 1; }
SECRET=0123456789abcdef0123456789abcdef-token-test
printf '%s\n' "$SECRET" >"$T/secret"
printf '%s' "short-secret" >"$T/short"

expect_rc 0 "$WBCTL" token --help
grep -q "usage: wbctl token" "$T/out" || fail "token --help prints no usage"
expect_rc 2 "$WBCTL" token --secret-file "$T/secret"                      # no --user
expect_rc 2 "$WBCTL" token --user u1                                      # no secret
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --secret-env X --user u1
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 --board b1  # no role
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 --role editor
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 --board b1 --role admin
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 --all-boards root
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 --ttl 0
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 --ttl 1h
expect_rc 2 "$WBCTL" token --secret-file "$T/secret" --user u1 extra
expect_rc 1 "$WBCTL" token --secret-file "$T/short" --user u1
grep -q "too short" "$T/err" || fail "short secret: $(cat "$T/err")"
expect_rc 1 "$WBCTL" token --secret-file "$T/nosuch" --user u1
expect_rc 1 env -u WB_NO_SUCH_VAR "$WBCTL" token --secret-env WB_NO_SUCH_VAR --user u1

# Defaults: one hour, no roles.
expect_rc 0 "$WBCTL" token --secret-file "$T/secret" --user u1
[[ $(wc -l <"$T/out") == 1 ]] || fail "stdout is more than the token: $(cat "$T/out")"
check_token "$SECRET" '
assert c["sub"] == "u1" and c["exp"] - c["iat"] == 3600
assert "role" not in c and "boards" not in c and "name" not in c
' || fail "default token"

# Per-board roles, a role on every board, name, ttl; secret from the env.
expect_rc 0 env WB_TEST_SECRET="$SECRET" "$WBCTL" token --secret-env WB_TEST_SECRET \
    --user user-42 --name "Ada L" --board b1 --role owner --board b2 --role viewer \
    --all-boards viewer --ttl 120
check_token "$SECRET" '
assert c["sub"] == "user-42" and c["name"] == "Ada L", c
assert c["boards"] == {"b1": "owner", "b2": "viewer"}, c
assert c["role"] == "viewer" and c["exp"] - c["iat"] == 120, c
assert c["exp"] > now
' || fail "token with roles"

# The file's trailing newline is not part of the secret.
expect_rc 0 "$WBCTL" token --secret-file "$T/secret" --user u2 --all-boards editor
check_token "$SECRET" 'assert c["role"] == "editor"' || fail "secret file newline"
check_token "$SECRET"$'\n' 'pass' 2>/dev/null && fail "token verifies with the newline in the secret"

rm -rf "$T"
if ((fails)); then
    echo "test_wbctl_token: $fails failure(s)"
    exit 1
fi
echo "test_wbctl_token: ok"

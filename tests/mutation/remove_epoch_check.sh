#!/usr/bin/env bash
# Mutation check of the store epoch: copy the working tree, remove the epoch check (the token
# claim, the challenge take and generate's put no longer name an epoch, and a challenge's epoch
# is not compared),
# and run tests/test_store_loss.py on the copy. Those tests must fail; this script exits 0 only
# when they do. Run from the repository root: bash tests/mutation/remove_epoch_check.sh
set -euo pipefail
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy"
cd "$copy"
sed -i 's/keep, epoch=claims\["aud"\])/keep)/' flask_captcha_ext/selfhosted/tokens.py
sed -i 's/CHALLENGE_PREFIX + captcha_id, groups, epoch)/CHALLENGE_PREFIX + captcha_id, groups)/' \
  flask_captcha_ext/selfhosted/service.py
sed -i 's/draft.ttl, groups, extra, epoch$/draft.ttl, groups, extra, None/' \
  flask_captcha_ext/selfhosted/service.py
sed -i 's/        if record.get("e") != epoch:/        if False:/' flask_captcha_ext/selfhosted/service.py
# Each mutation must have applied, or the check proves nothing.
applied() {
  grep -q "$1" "$2" || { echo "mutation not applied to $2 (the code moved): $1" >&2; exit 2; }
}
applied 'keep)$' flask_captcha_ext/selfhosted/tokens.py
applied 'CHALLENGE_PREFIX + captcha_id, groups),$' flask_captcha_ext/selfhosted/service.py
applied 'draft.ttl, groups, extra, None$' flask_captcha_ext/selfhosted/service.py
applied '        if False:' flask_captcha_ext/selfhosted/service.py
PYTHONPATH="$copy" python -c "import flask_captcha_ext as m; print('testing the mutant at', m.__file__)"
if PYTHONPATH="$copy" python -m pytest -q -p no:cacheprovider tests/test_store_loss.py; then
  echo "MUTANT SURVIVED: the store-loss tests pass without the epoch check" >&2
  exit 1
fi
echo "mutant killed: the store-loss tests fail without the epoch check"

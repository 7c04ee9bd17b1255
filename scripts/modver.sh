# Sourced by deps.sh and generate.sh so both read a tool's pinned version the same way.
# modver DIR MODULE: the version MODULE is required at in DIR/go.mod (without the leading v).
modver() {
	local v
	v=$(awk -v m="$2" '{
		sub(/\/\/.*/, "")
		for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v[0-9]/) { print $(i + 1); exit }
	}' "$1/go.mod")
	[ -n "$v" ] || { echo "$2 is not required in $1/go.mod" >&2; return 1; }
	echo "${v#v}"
}

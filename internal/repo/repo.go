// Package repo finds the project's checkout and the binaries `make deps` put in it, for the
// programs and suites that run from a checkout (deploy/local, internal/testservers).
package repo

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DepsBinEnv names the environment variable that, when set, is the folder holding the binaries
// (instead of <repo>/.deps/bin).
const DepsBinEnv = "DIEGO_DEPS_BIN"

const rootModule = "github.com/diego-go/diego"

// BinPath returns the path of the deps binary name (etcd, etcdctl, consul, nats-server,
// protoc-gen-go): $DIEGO_DEPS_BIN/<name> if that variable is set, else <repo>/.deps/bin/<name>, where
// <repo> is found by walking up from the working directory to the root go.mod.
func BinPath(name string) (string, error) {
	var dir string
	if env := os.Getenv(DepsBinEnv); env != "" {
		dir = env
	} else {
		root, err := RepoRoot()
		if err != nil {
			return "", fmt.Errorf("repo: cannot find %s: %w; run make deps in the repository root, or set %s", name, err, DepsBinEnv)
		}
		dir = filepath.Join(root, ".deps", "bin")
	}
	p := filepath.Join(dir, name)
	info, err := os.Stat(p) // follows the .deps/bin symlink
	if err != nil {
		return "", fmt.Errorf("repo: %s not found at %s: run make deps", name, p)
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("repo: %s at %s is not an executable file: run make deps", name, p)
	}
	return p, nil
}

// RepoRoot walks up from the working directory to the directory whose go.mod declares the
// project's root module.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if isRootModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above %s", rootModule, wd)
		}
		dir = parent
	}
}

func isRootModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == rootModule
		}
	}
	return false
}

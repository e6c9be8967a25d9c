// go.mod for building github.com/opencontainers/runtime-tools v0.9.0, which
// predates modules. build.sh copies it (and suite.go.sum) into the module's
// source tree. Pins follow v0.9.0's Godeps.json; where the module proxy does
// not serve a Godeps revision, the nearest version it serves is used
// (runtime-spec: a Feb 2019 commit close to the one vendored).
// Regenerate with `go mod tidy` inside _build/validate/src, then copy back.

module github.com/opencontainers/runtime-tools

go 1.17

require (
	github.com/blang/semver v3.5.0+incompatible
	github.com/hashicorp/go-multierror v1.0.0
	github.com/mndrix/tap-go v0.0.0-20171203230836-629fa407e90b
	github.com/mrunalp/fileutils v0.5.0
	github.com/opencontainers/runtime-spec v1.0.2-0.20190207185410-29686dbc5559
	github.com/opencontainers/selinux v1.0.0
	github.com/satori/go.uuid v1.2.0
	github.com/sirupsen/logrus v1.0.4
	github.com/stretchr/testify v1.1.4
	github.com/syndtr/gocapability v0.0.0-20200815063812-42c35b437635
	github.com/urfave/cli v1.19.1
	github.com/xeipuuv/gojsonschema v1.1.0
	golang.org/x/sys v0.1.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/hashicorp/errwrap v1.0.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/xeipuuv/gojsonpointer v0.0.0-20180127040702-4e3ac2762d5f // indirect
	github.com/xeipuuv/gojsonreference v0.0.0-20180127040603-bd5ef7bd5415 // indirect
	golang.org/x/crypto v0.1.0 // indirect
	golang.org/x/term v0.1.0 // indirect
	gopkg.in/airbrake/gobrake.v2 v2.0.9 // indirect
	gopkg.in/check.v1 v1.0.0-20201130134442-10cb98267c6c // indirect
	gopkg.in/gemnasium/logrus-airbrake-hook.v2 v2.1.2 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)

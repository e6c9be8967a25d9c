// Package oci loads and checks OCI runtime bundles: it reads config.json into
// runtime-spec types, rejects what hull cannot run with errors that name the
// file, field and value, and builds the default spec that `hull spec` writes.
//
// It is the bottom of hull's dependency graph: it imports no other hull package.
package oci

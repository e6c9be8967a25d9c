// Command go-start is the floor case's smallest probe (tests/bench/floor.go):
// a Go program that starts and exits, linked as hull is (cgo, so the C
// library's start and the cgo runtime are in it). Its peak RSS is what
// any hull command pays before it does anything of its own.
package main

import _ "runtime/cgo" // linked as hull is: the C start and cgo's runtime

func main() {}

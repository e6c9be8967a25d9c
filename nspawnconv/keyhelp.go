package nspawnconv

// ArgHelp is how a flag's value is written in help text: "" (no value),
// "=VALUE" or "[=VALUE]" (optional).
func (k KeyDef) ArgHelp() string {
	switch k.arg {
	case argRequired:
		return "=VALUE"
	case argOptional:
		return "[=VALUE]"
	}
	return ""
}

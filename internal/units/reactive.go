package units

// VoltAmperesReactive is reactive power in var, positive when injecting (capacitive).
type VoltAmperesReactive float64

package store

// ExtendedSelect lets the external tests explain the very query MessagesBefore runs.
const ExtendedSelect = extendedSelect

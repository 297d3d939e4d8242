// Written by the owner of this module (see telemetry/mod.rs).

'use strict';
/* global module, require -- a CommonJS module (see below) */
/**
 * This module's own `require`, in both builds (a CommonJS file in the ESM build too), so
 * `load-blas` resolves the optional native `nblas` binding from this package's location without
 * `import.meta`, which the CommonJS build cannot contain.
 * @type {NodeJS.Require}
 */
module.exports = require;

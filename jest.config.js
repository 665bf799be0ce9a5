/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', isolatedModules: true }] },
  // Explicit reporters: jest switches to an "agent" reporter under some environment variables.
  reporters: ['default', '<rootDir>/scripts/jest-plain-summary.js'],
  testTimeout: 120000,
  maxWorkers: 2,
};

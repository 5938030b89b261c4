// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Cores are sans-IO: they get the clock, randomness and sockets injected (DESIGN.md). */
const sansIo = {
  'no-restricted-globals': [
    'error',
    { name: 'setTimeout', message: 'Cores use the injected Clock.' },
    { name: 'setInterval', message: 'Cores use the injected Clock.' },
    { name: 'clearTimeout', message: 'Cores use the injected Clock.' },
    { name: 'clearInterval', message: 'Cores use the injected Clock.' },
    { name: 'fetch', message: 'Cores use an injected client.' },
    { name: 'WebSocket', message: 'Cores use an injected transport.' },
    { name: 'performance', message: 'Cores use the injected Clock.' },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: 'Cores use the injected Clock.' },
    { object: 'Math', property: 'random', message: 'Cores use the injected Random.' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test-output/', 'docs/results/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  { files: ['src/**/*.ts'], ignores: ['src/cli/**'], rules: { 'no-console': 'error' } },
  {
    files: ['src/peer/**/*.ts', 'src/tracker/core/**/*.ts'],
    ignores: ['**/*.node.ts'],
    rules: sansIo,
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);

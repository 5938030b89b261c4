export * from './core/topology.js';
export * from './core/list.js';
export * from './core/mesh.js';
export * from './core/tree.js';
export * from './core/tracker-core.js';
export * from './server.js';

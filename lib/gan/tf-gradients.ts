/**
 * Registers TensorFlow.js's gradient functions. tfjs-core's Node build ships without them and its ESM files
 * cannot be imported by Node directly; the union package `@tensorflow/tfjs` registers every gradient into the
 * one tfjs-core instance that the backends share. Its other parts (layers, converter, webgl) stay unused.
 */
import "@tensorflow/tfjs";

import { describe, expect, it } from 'vitest';
import { classifyBlasLibrary } from './classify-blas-library.js';

describe('classifyBlasLibrary', () => {
  it('picks the OpenBLAS core library over the libblas.so.3 alternative that loads it', () => {
    const result = classifyBlasLibrary({
      mappedPaths: [
        '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
        '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so',
        '/work/node_modules/nblas/build/Release/nblas.node',
      ],
    });
    expect(result).toEqual({
      library: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so',
      kind: 'optimized',
    });
  });

  it('classifies the libblas.so.3 alternative of an OpenBLAS build as optimized by its folder', () => {
    const path = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';
    expect(classifyBlasLibrary({ mappedPaths: [path] })).toEqual({
      library: path,
      kind: 'optimized',
    });
  });

  it('flags the netlib reference libblas (Debian /blas/ alternative) as reference', () => {
    const path = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0';
    expect(classifyBlasLibrary({ mappedPaths: ['/usr/lib/libc.so.6', path] })).toEqual({
      library: path,
      kind: 'reference',
    });
  });

  it('recognises MKL and BLIS, and says unknown when no BLAS is mapped', () => {
    expect(classifyBlasLibrary({ mappedPaths: ['/opt/intel/lib/libmkl_rt.so.2'] }).kind).toBe(
      'optimized',
    );
    expect(classifyBlasLibrary({ mappedPaths: ['/usr/lib/libblis.so.4'] }).kind).toBe('optimized');
    expect(classifyBlasLibrary({ mappedPaths: ['/usr/lib/libc.so.6'] })).toEqual({
      library: 'unknown',
      kind: 'unknown',
    });
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_TAGS, THINKING_TAGS, renderTemplate } from './templates.js';

const fields = { question: 'What is 7*6?', answer: '42', trace: '7 sixes: 42.</think>' };

describe('renderTemplate', () => {
  it('reproduces the worked example of methods.md §1', () => {
    expect(renderTemplate('prior-sample', fields)).toBe('Question: What is 7*6?\n<think>');
    expect(renderTemplate('prior-score', fields)).toBe(
      'Question: What is 7*6?\n<think>7 sixes: 42.</think>\n<answer>42</answer>',
    );
    expect(renderTemplate('posterior', fields)).toBe(
      'Question: What is 7*6?\n<answer>42</answer>\n<think>7 sixes: 42.</think>',
    );
    expect(renderTemplate('posterior', { question: 'q', answer: 'a' })).toBe(
      'Question: q\n<answer>a</answer>\n<think>',
    );
    expect(
      renderTemplate('full-sample', { ...fields, response: 'r</think>\n<answer>41</answer>' }),
    ).toBe('Question: What is 7*6?\n<think>r</think>\n<answer>41</answer>');
    expect(renderTemplate('rlpr-baseline', fields)).toBe(
      'Question: What is 7*6?\n<answer>42</answer>',
    );
    expect(renderTemplate('rlpr-baseline-empty-think', fields)).toBe(
      'Question: What is 7*6?\n<think></think>\n<answer>42</answer>',
    );
  });

  it('switches every context with the <thinking> variant', () => {
    const trace = 'ok</thinking>';
    expect(renderTemplate('prior-score', { ...fields, trace }, THINKING_TAGS)).toBe(
      'Question: What is 7*6?\n<thinking>ok</thinking>\n<answer>42</answer>',
    );
    expect(renderTemplate('rlpr-baseline-empty-think', fields, THINKING_TAGS)).toBe(
      'Question: What is 7*6?\n<thinking></thinking>\n<answer>42</answer>',
    );
    expect(DEFAULT_TAGS.thinkOpen).toBe('<think>');
  });

  it('names the function and argument in its errors', () => {
    expect(() => renderTemplate('prior-score', { question: 'q', answer: 'a' })).toThrow(
      /renderTemplate: fields.trace/,
    );
    expect(() =>
      renderTemplate('prior-sample', fields, { ...DEFAULT_TAGS, thinkClose: '' }),
    ).toThrow(/renderTemplate: tags.thinkClose/);
  });
});

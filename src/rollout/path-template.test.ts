import { describe, expect, it } from 'vitest';
import { pathTemplate } from './path-template.js';

describe('pathTemplate', () => {
  it.each([
    ['/rest/api/2/issue/PROJ-123', '/rest/api/2/issue/{key}'],
    ['/rest/api/2/issue/PROJ-123/comment/10001', '/rest/api/2/issue/{key}/comment/{id}'],
    ['/rest/api/latest/project/10000', '/rest/api/latest/project/{id}'],
    ['/rest/agile/1.0/board/12/sprint', '/rest/agile/1.0/board/{id}/sprint'],
    ['/rest/api/2/myself', '/rest/api/2/myself'],
    ['/rest/api/2/user?accountId=5b10ac8d82e05b22cc7d4ef5', '/rest/api/2/user'],
    ['/rest/api/2/attachment/content/0123456789abcdef0123', '/rest/api/2/attachment/content/{id}'],
    ['/rest/x/1/item/123e4567-e89b-12d3-a456-426614174000', '/rest/x/1/item/{uuid}'],
    ['/rest/api/2/search', '/rest/api/2/search'],
    ['/', '/'],
  ])('%s -> %s', (path, want) => expect(pathTemplate(path)).toBe(want));

  it('bounds long paths and long segments', () => {
    expect(pathTemplate(`/rest/${'a/'.repeat(30)}`)).toMatch(/…$/);
    expect(pathTemplate(`/rest/api/2/x/${'y'.repeat(100)}`)).toBe('/rest/api/2/x/{…}');
  });
});

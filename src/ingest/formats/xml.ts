/** The provider's XML feed (the first format): the streaming saxes parser of ../parser.ts. */
import { FeedParser } from '../parser.js';
import type { FeedFormat } from './index.js';

export const xmlFormat: FeedFormat = {
  name: 'xml',
  reader: () => new FeedParser(),
};

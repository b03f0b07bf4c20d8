import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PROTOCOL_VERSION,
  createMessage,
  describeInvalidParts,
  executeRequestContent,
  isChannel,
  isMessageHeader,
  isParentHeader,
  isStatusMessage,
  parentMsgId,
} from './messages';

test('createMessage fills the 5.3 header in snake_case from camelCase options', () => {
  const msg = createMessage({ msgType: 'execute_request', session: 's1', username: 'ana', content: executeRequestContent('1+1') });
  assert.match(msg.header.msg_id, /^[0-9a-f-]{36}$/);
  assert.equal(msg.header.msg_type, 'execute_request');
  assert.equal(msg.header.session, 's1');
  assert.equal(msg.header.username, 'ana');
  assert.equal(msg.header.version, PROTOCOL_VERSION);
  assert.equal(new Date(msg.header.date).toISOString(), msg.header.date);
  assert.deepEqual(msg.parent_header, {});
  assert.deepEqual(msg.metadata, {});
  assert.deepEqual(msg.buffers, []);
  assert.equal(msg.content.store_history, true);
  assert.equal(isMessageHeader(msg.header), true);
});

test('each message gets its own msg_id; a reply carries its parent', () => {
  const request = createMessage({ msgType: 'kernel_info_request', session: 's', username: 'u', content: {} });
  const reply = createMessage({ msgType: 'kernel_info_reply', session: 's', username: 'u', content: {}, parentHeader: request.header });
  assert.notEqual(request.header.msg_id, reply.header.msg_id);
  assert.equal(parentMsgId(reply), request.header.msg_id);
  assert.equal(parentMsgId(request), undefined);
});

test('guards reject what a kernel or browser must not send', () => {
  const header = createMessage({ msgType: 'x', session: 's', username: 'u', content: {} }).header;
  assert.equal(isChannel('shell'), true);
  assert.equal(isChannel('hb'), false);
  assert.equal(isMessageHeader({ ...header, msg_id: '' }), false);
  assert.equal(isMessageHeader({ ...header, version: 5 }), false);
  assert.equal(isMessageHeader([]), false);
  assert.equal(isParentHeader({}), true);
  assert.equal(isParentHeader({ msg_id: 'only' }), false);
  assert.equal(isParentHeader(null), false);
  assert.equal(describeInvalidParts({ header, parent_header: {}, metadata: {}, content: [] }), 'content is not a JSON object');
  assert.equal(describeInvalidParts({ header, parent_header: {}, metadata: {}, content: {} }), null);
});

test('isStatusMessage narrows status content', () => {
  const msg = createMessage({ msgType: 'status', session: 's', username: 'u', content: { execution_state: 'idle' } });
  assert.equal(isStatusMessage(msg), true);
  assert.equal(isStatusMessage({ ...msg, content: {} }), false);
});

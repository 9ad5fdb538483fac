// Fragment links of the views, in the shapes that parseRoute in app.js reads.

export function userHref(userId) {
  return `#/users/${encodeURIComponent(userId)}`;
}

/** Return the user ID of the current #/users/<id>… fragment, or "" on another view. */
export function currentUserId() {
  const [, section, userId] = location.hash.split("/");
  if (section !== "users" || !userId) return "";
  try {
    return decodeURIComponent(userId);
  } catch {
    return "";
  }
}

export function messageHref(userId, messageId) {
  return `${userHref(userId)}/messages/${encodeURIComponent(messageId)}`;
}

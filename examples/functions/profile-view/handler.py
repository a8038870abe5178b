# Example (middle class): builds a user's profile page data.
import hashlib
import json


def handler(event, context):
    user = event.get("user", "guest") if isinstance(event, dict) else "guest"
    digest = hashlib.sha256(user.encode()).hexdigest()
    friends = [f"friend-{digest[i:i + 6]}" for i in range(0, 48, 6)]
    return {
        "statusCode": 200,
        "body": json.dumps({"user": user, "avatar": digest[:12], "friends": friends, "requestId": context.aws_request_id}),
    }

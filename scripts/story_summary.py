"""Print the conversation-test summary written by `rasa test core`."""

import json
import sys

report = json.load(open(sys.argv[1]))["conversation_accuracy"]
print(f"Conversation tests: {report['correct']}/{report['total']} stories passed")

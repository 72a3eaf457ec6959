"""Boot entry: runs the hub application (hubplatform's A/B loader replaces this file)."""

import hub.app

hub.app.main()

"""Boot entry: the never-updated loader picks the application slot and runs hub.app.main()."""

import loader

loader.run("hub.app")

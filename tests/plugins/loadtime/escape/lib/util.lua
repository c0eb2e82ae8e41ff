-- a module of the plugin's own, really in its folder
return { name = "util" }

"""The Textual terminal client (issue 6). :mod:`.app` holds the App; :mod:`.commands`
and :mod:`.render` are shared with the line mode (:mod:`hearth_client.plain`) and
import no Textual."""

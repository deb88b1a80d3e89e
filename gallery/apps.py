from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Seedgallery"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from gallery.log_masking import install_on_access_loggers
        from gallery.middleware import mark_session_start

        install_on_access_loggers()

        user_logged_in.connect(mark_session_start, dispatch_uid="gallery.session_start")

-- Workers keep the public pages they rendered and drop them when the images
-- change. Every statement that changes the table, from the admin, `iotd
-- image`, or plain SQL, notifies channel iotd_images on commit; workers
-- LISTEN on their connection and check before serving a kept page.
-- (Postgres folds identical notifications of one transaction into one.)
CREATE FUNCTION iotd_images_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('iotd_images', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER images_notify AFTER INSERT OR UPDATE OR DELETE ON images
    FOR EACH STATEMENT EXECUTE FUNCTION iotd_images_notify();
CREATE TRIGGER images_notify_truncate AFTER TRUNCATE ON images
    FOR EACH STATEMENT EXECUTE FUNCTION iotd_images_notify();
